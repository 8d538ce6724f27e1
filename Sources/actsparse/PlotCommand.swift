import ActSparse
import ActSparseTools
import ArgumentParser
import Foundation

/// `actsparse plot`: a line chart from a CSV of points, so launch scripts can draw PNGs with nothing but this
/// binary (no matplotlib on the machines they run on).
struct PlotCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plot",
        abstract: "Draws a line chart (PNG) from a CSV of points: series,x,y[,style].",
        discussion: """
            One line per series in the order they first appear, points sorted by x; style `line` (default), `dash` \
            (a model or projection) or `dot` (points only). Axes start at 0 unless --y-min is given.
            """)

    @Option(help: "Points CSV with a header: series,x,y[,style].") var points: String
    @Option(help: "PNG to write.") var out: String
    @Option(help: "Title.") var title = ""
    @Option(help: "X axis label.") var xLabel = "x"
    @Option(help: "Y axis label.") var yLabel = "y"
    @Option(help: "Lower end of the y axis (default 0).") var yMin = 0.0

    struct Point { var series: String, x: Double, y: Double, style: String }

    func run() throws {
        let text = try readText(points)
        var lines = CSV.parse(text)
        guard let header = lines.first, header.count >= 3, header[0] == "series", header[1] == "x", header[2] == "y" else {
            throw ValidationError("\(points): expected a header series,x,y[,style]")
        }
        lines.removeFirst()
        var pts: [Point] = []
        for (k, row) in lines.enumerated() where !row.allSatisfy(\.isEmpty) {
            guard row.count >= 3, let x = Double(row[1]), let y = Double(row[2]), abs(x) <= PlotCommand.limit,
                  abs(y) <= PlotCommand.limit else {
                throw ValidationError("\(points): line \(k + 2): expected series,x,y with numbers within ±\(PlotCommand.limit), "
                    + "found \(row)")
            }
            pts.append(Point(series: row[0], x: x, y: y, style: row.count > 3 && !row[3].isEmpty ? row[3] : "line"))
        }
        guard !pts.isEmpty else { throw ValidationError("\(points): no points") }
        guard abs(yMin) <= PlotCommand.limit, yMin < (pts.map(\.y).max() ?? 0) || yMin == 0 else {
            throw ValidationError("--y-min must be a number within ±\(PlotCommand.limit) below the largest y, found \(yMin)")
        }
        try draw(pts).writePNG(to: out)
        print("wrote \(out)")
    }

    /// The largest magnitude a point may have (axis arithmetic stays finite far beyond it).
    static let limit = 1e15

    static let palette: [Raster.Color] = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
                                          (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)]

    func draw(_ pts: [Point]) -> Raster {
        var names: [String] = []
        for p in pts where !names.contains(p.series) { names.append(p.series) }
        let legendRows = (names.count + 1) / 2
        var img = Raster(width: 1000, height: 560 + 22 * legendRows)
        img.text(title, x: 40, y: 14)
        let x0 = 100, y0 = 60, w = 840, h = 400
        let xMax = nice(pts.map(\.x).max() ?? 1), yMax = nice(pts.map(\.y).max() ?? 1)
        let yLow = min(yMin, yMax - 1e-9)
        func px(_ x: Double) -> Double { Double(x0) + x / xMax * Double(w) }
        func py(_ y: Double) -> Double { Double(y0 + h) - (min(max(y, yLow), yMax) - yLow) / (yMax - yLow) * Double(h) }
        for k in 0...5 {
            let gx = xMax * Double(k) / 5, gy = yLow + (yMax - yLow) * Double(k) / 5
            img.line(px(gx), Double(y0), px(gx), Double(y0 + h), (225, 225, 225))
            img.line(Double(x0), py(gy), Double(x0 + w), py(gy), (225, 225, 225))
            img.text(label(gx), x: Raster.pixel(px(gx)) - 12, y: y0 + h + 8)
            img.text(label(gy), x: x0 - 80, y: Raster.pixel(py(gy)) - 7)
        }
        img.line(Double(x0), Double(y0), Double(x0), Double(y0 + h), (0, 0, 0), thickness: 2)
        img.line(Double(x0), Double(y0 + h), Double(x0 + w), Double(y0 + h), (0, 0, 0), thickness: 2)
        img.text(xLabel, x: x0 + w / 2 - Raster.textWidth(xLabel) / 2, y: y0 + h + 32)
        img.text(yLabel, x: x0, y: y0 - 24)
        for (k, name) in names.enumerated() {
            let color = PlotCommand.palette[k % PlotCommand.palette.count]
            let series = pts.filter { $0.series == name }.sorted { $0.x < $1.x }
            let style = series.first?.style ?? "line"
            if style != "dot" {
                for (a, b) in zip(series, series.dropFirst()) {
                    if style == "dash" {  // ten segments, every other drawn
                        for s in stride(from: 0, to: 10, by: 2) {
                            let t0 = Double(s) / 10, t1 = Double(s + 1) / 10
                            img.line(px(a.x + (b.x - a.x) * t0), py(a.y + (b.y - a.y) * t0),
                                     px(a.x + (b.x - a.x) * t1), py(a.y + (b.y - a.y) * t1), color, thickness: 2)
                        }
                    } else {
                        img.line(px(a.x), py(a.y), px(b.x), py(b.y), color, thickness: 2)
                    }
                }
            }
            for p in series { img.dot(px(p.x), py(p.y), color, radius: style == "dash" ? 2 : 4) }
            let lx = x0 + (k % 2) * 440, ly = y0 + h + 60 + (k / 2) * 22
            img.fill(x: lx, y: ly + 5, w: 24, h: 4, color)
            img.text(name, x: lx + 30, y: ly)
        }
        return img
    }

    /// The next 1, 2 or 5 × 10^k at or above v (axis ends).
    func nice(_ v: Double) -> Double {
        guard v > 0, v.isFinite else { return 1 }
        let e = pow(10, floor(log10(v)))
        for m in [1.0, 2, 5, 10] where m * e >= v * 0.999 { return m * e }
        return 10 * e
    }

    func label(_ v: Double) -> String {
        v == v.rounded() && abs(v) < 1e6 ? String(Int(v)) : String(format: abs(v) < 10 ? "%.2f" : "%.1f", v)
    }
}
