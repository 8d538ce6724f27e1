import ActSparse
import Foundation

/// The report's plot: ΔNLL (left) and measured decode speed-up (right) against byte-weighted sparsity, one line per
/// variant, the quality budgets' plans as black dots. SVG (real text, round ticks, speed ranges, off-scale points
/// marked) and a PNG of the same.
public enum SparsityReportPlot {
    public typealias Row = (name: String, byteSparsity: Double, deltaNLL: Double, speedup: Double)

    public struct Point {
        public var name: String, byteSparsity: Double, deltaNLL: Double, speedup: Double
        /// Lowest and highest speed-up over the repeats.
        public var speedupRange: (Double, Double)?
        public init(name: String, byteSparsity: Double, deltaNLL: Double, speedup: Double, speedupRange: (Double, Double)?) {
            self.name = name; self.byteSparsity = byteSparsity; self.deltaNLL = deltaNLL; self.speedup = speedup
            self.speedupRange = speedupRange
        }
    }

    static let hex = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd"]

    /// ΔNLL's axis stops at 1 nat (or the largest budget point): steeper points are marked off-scale, not clipped.
    public static func writeSVG(_ points: [Point], title: String, to path: String) throws {
        func series(_ value: (Point) -> Double, _ spread: ((Point) -> (Double, Double)?)?) -> [SVGChart.Series] {
            var out = zip(Self.series.map(\.0), hex).map { name, color in
                SVGChart.Series(name: name, color: color, points: points.filter { $0.name == name }
                    .map { (x: $0.byteSparsity, y: value($0), spread: spread?($0)) })
            }
            out.append(SVGChart.Series(name: "budget plans", color: "#000000", points: points.filter { $0.name.hasPrefix("budget") }
                .map { (x: $0.byteSparsity, y: value($0), spread: spread?($0)) }, line: false))
            return out
        }
        let budgetTop = points.filter { $0.name.hasPrefix("budget") }.map(\.deltaNLL).max() ?? 0
        let chart = SVGChart(title: title, panels: [
            .init(title: "Held-out ΔNLL (nats/token)", xLabel: "byte-weighted sparsity", yLabel: "ΔNLL",
                  series: series({ $0.deltaNLL }, nil), yCap: max(1, budgetTop * 1.2), xPercent: true),
            .init(title: "Decode speed-up vs dense (median, range)", xLabel: "byte-weighted sparsity", yLabel: "× dense",
                  series: series({ $0.speedup }, { $0.speedupRange }), xPercent: true),
        ])
        try chart.write(to: path)
    }

    public static func write(_ points: [Point], title: String, to path: String) throws {
        try write(rows: points.map { ($0.name, $0.byteSparsity, $0.deltaNLL, $0.speedup) }, title: title, to: path)
    }

    static let series: [(String, Raster.Color)] = [
        ("uniform, MLP only", (31, 119, 180)), ("allocated, MLP only", (255, 127, 14)),
        ("uniform, model-wide", (44, 160, 44)), ("allocated, model-wide", (214, 39, 40)),
        ("allocated per layer, model-wide", (148, 103, 189)),
    ]

    public static func write(rows: [Row], title: String, to path: String) throws {
        var img = Raster(width: 1200, height: 570)
        img.text(title, x: 40, y: 14)
        let xMax = max(0.1, ((rows.map(\.byteSparsity).max() ?? 0.5) * 10).rounded(.up) / 10)
        let nll = rows.map(\.deltaNLL).filter(\.isFinite)
        let yMax = max(0.1, min(3, nll.max() ?? 1))
        let speed = rows.map(\.speedup).filter(\.isFinite)
        panel(&img, rows: rows, x0: 90, label: "DNLL (NATS/TOKEN)", xMax: xMax, yMin: min(0, nll.min() ?? 0), yMax: yMax,
              value: \.deltaNLL)
        panel(&img, rows: rows, x0: 690, label: "DECODE SPEED-UP VS DENSE", xMax: xMax,
              yMin: min(0.8, speed.min() ?? 1), yMax: max(1.2, speed.max() ?? 1), value: \.speedup)
        // Legend in two rows under the panels.
        for (k, (name, color)) in (series + [("budget plans", (0, 0, 0))]).enumerated() {
            let x = 90 + (k % 2) * 600, y = 500 + (k / 2) * 22
            img.fill(x: x, y: y + 5, w: 24, h: 4, color)
            img.text(name, x: x + 30, y: y)
        }
        try img.writePNG(to: path)
    }

    static func panel(_ img: inout Raster, rows: [Row], x0: Int, label: String, xMax: Double, yMin: Double,
                      yMax: Double, value: KeyPath<Row, Double>) {
        let w = 460, h = 380, y0 = 60
        func px(_ x: Double) -> Double { Double(x0) + x / xMax * Double(w) }
        func py(_ y: Double) -> Double { Double(y0 + h) - (min(max(y, yMin), yMax) - yMin) / (yMax - yMin) * Double(h) }
        img.text(label, x: x0, y: y0 - 22)
        for k in 0...5 {  // grid and ticks
            let gx = xMax * Double(k) / 5, gy = yMin + (yMax - yMin) * Double(k) / 5
            img.line(px(gx), Double(y0), px(gx), Double(y0 + h), (225, 225, 225))
            img.line(Double(x0), py(gy), Double(x0 + w), py(gy), (225, 225, 225))
            img.text("\(Int((gx * 100).rounded()))%", x: Raster.pixel(px(gx)) - 12, y: y0 + h + 8)
            img.text(String(format: "%.2f", gy), x: x0 - 66, y: Raster.pixel(py(gy)) - 7)
        }
        img.line(Double(x0), Double(y0), Double(x0), Double(y0 + h), (0, 0, 0), thickness: 2)
        img.line(Double(x0), Double(y0 + h), Double(x0 + w), Double(y0 + h), (0, 0, 0), thickness: 2)
        img.text("BYTE-WEIGHTED SPARSITY", x: x0 + w / 2 - 130, y: y0 + h + 32)
        for (name, color) in series {
            let pts = rows.filter { $0.name == name }.sorted { $0.byteSparsity < $1.byteSparsity }
            for (a, b) in zip(pts, pts.dropFirst()) {
                img.line(px(a.byteSparsity), py(a[keyPath: value]), px(b.byteSparsity), py(b[keyPath: value]), color, thickness: 2)
            }
            for p in pts { img.dot(px(p.byteSparsity), py(p[keyPath: value]), color) }
        }
        for p in rows where p.name.hasPrefix("budget") { img.dot(px(p.byteSparsity), py(p[keyPath: value]), (0, 0, 0), radius: 5) }
    }
}
