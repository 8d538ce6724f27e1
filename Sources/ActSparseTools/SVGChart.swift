import Foundation

/// A line chart as SVG text: real labels (Δ, ×, %), axes on round ticks (1, 2 or 5 × 10^k), and nothing clipped in
/// silence — a point beyond the axis is drawn as a triangle on the edge with its value. Several panels side by side.
public struct SVGChart {
    public struct Series {
        public var name: String
        public var color: String
        /// (x, y, optional (low, high) spread drawn as a bar)
        public var points: [(x: Double, y: Double, spread: (Double, Double)?)]
        public var line = true
        public init(name: String, color: String, points: [(x: Double, y: Double, spread: (Double, Double)?)], line: Bool = true) {
            self.name = name; self.color = color; self.points = points; self.line = line
        }
    }

    public struct Panel {
        public var title: String, xLabel: String, yLabel: String
        public var series: [Series]
        /// Axis ranges; nil: from the data (x from 0). `yCap` limits the top of a data-driven y axis (beyond it:
        /// off-scale markers).
        public var x: ClosedRange<Double>?, y: ClosedRange<Double>?, yCap: Double?
        public var xPercent = false
        public init(title: String, xLabel: String, yLabel: String, series: [Series], x: ClosedRange<Double>? = nil,
                    y: ClosedRange<Double>? = nil, yCap: Double? = nil, xPercent: Bool = false) {
            self.title = title; self.xLabel = xLabel; self.yLabel = yLabel; self.series = series
            self.x = x; self.y = y; self.yCap = yCap; self.xPercent = xPercent
        }
    }

    public var title: String
    public var panels: [Panel]
    public init(title: String, panels: [Panel]) { self.title = title; self.panels = panels }

    /// Round ticks covering `lo...hi`: a step of 1, 2 or 5 × 10^k giving about `count` intervals.
    public static func ticks(_ lo: Double, _ hi: Double, count: Int = 5) -> [Double] {
        guard lo.isFinite, hi.isFinite, hi > lo else { return [lo] }
        let raw = (hi - lo) / Double(count)
        let k = floor(log10(raw)), e = pow(10, k)
        let m = [1.0, 2, 5, 10].first { $0 * e >= raw * 0.999 } ?? 10
        let step = m * e
        // i · m / 10^-k rather than i · step: 3 · 0.2 is 0.6000000000000001, 6 / 10 is 0.6.
        func tick(_ i: Double) -> Double { k < 0 ? i * m / pow(10, -k) : i * step }
        let first = (lo / step).rounded(.down), last = (hi / step).rounded(.up)
        return stride(from: first, through: last, by: 1).map(tick)
    }

    static func label(_ v: Double, percent: Bool) -> String {
        if percent { return String(format: "%g%%", (v * 100 * 1e6).rounded() / 1e6) }
        return String(format: "%g", (v * 1e9).rounded() / 1e9)
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    public func svg() -> String {
        let pw = 460.0, ph = 320.0, left = 70.0, top = 70.0, gap = 110.0
        let names = panels.flatMap { $0.series.map { ($0.name, $0.color) } }
        var legend: [(String, String)] = []
        for n in names where !legend.contains(where: { $0.0 == n.0 }) { legend.append(n) }
        let width = left + Double(panels.count) * (pw + gap)
        let height = top + ph + 70 + Double((legend.count + 1) / 2) * 20 + 20
        var out = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" \
            font-family="Helvetica, Arial, sans-serif" font-size="13">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(left)" y="28" font-size="16">\(SVGChart.escape(title))</text>

            """
        for (k, p) in panels.enumerated() {
            let x0 = left + Double(k) * (pw + gap)
            let pts = p.series.flatMap(\.points)
            let xs = pts.map(\.x).filter(\.isFinite), ys = pts.map(\.y).filter(\.isFinite)
            let xr = p.x ?? 0...max(xs.max() ?? 1, 1e-9)
            var yr = p.y ?? min(0, ys.min() ?? 0)...max(ys.max() ?? 1, 1e-9)
            if let cap = p.yCap, yr.upperBound > cap { yr = yr.lowerBound...cap }
            let xt = SVGChart.ticks(xr.lowerBound, xr.upperBound), yt = SVGChart.ticks(yr.lowerBound, yr.upperBound)
            let (xa, xb) = (xt.first ?? 0, xt.last ?? 1), (ya, yb) = (yt.first ?? 0, yt.last ?? 1)
            func px(_ x: Double) -> Double { x0 + (x - xa) / max(xb - xa, 1e-12) * pw }
            func py(_ y: Double) -> Double { top + ph - (y - ya) / max(yb - ya, 1e-12) * ph }
            out += "<text x=\"\(x0)\" y=\"\(top - 18)\" font-size=\"14\">\(SVGChart.escape(p.title))</text>\n"
            for t in xt {
                out += "<line x1=\"\(px(t))\" y1=\"\(top)\" x2=\"\(px(t))\" y2=\"\(top + ph)\" stroke=\"#e4e4e4\"/>"
                out += "<text x=\"\(px(t))\" y=\"\(top + ph + 18)\" text-anchor=\"middle\">\(SVGChart.label(t, percent: p.xPercent))</text>\n"
            }
            for t in yt {
                out += "<line x1=\"\(x0)\" y1=\"\(py(t))\" x2=\"\(x0 + pw)\" y2=\"\(py(t))\" stroke=\"#e4e4e4\"/>"
                out += "<text x=\"\(x0 - 8)\" y=\"\(py(t) + 4)\" text-anchor=\"end\">\(SVGChart.label(t, percent: false))</text>\n"
            }
            out += "<rect x=\"\(x0)\" y=\"\(top)\" width=\"\(pw)\" height=\"\(ph)\" fill=\"none\" stroke=\"black\"/>\n"
            out += "<text x=\"\(x0 + pw / 2)\" y=\"\(top + ph + 40)\" text-anchor=\"middle\">\(SVGChart.escape(p.xLabel))</text>\n"
            out += "<text transform=\"translate(\(x0 - 52),\(top + ph / 2)) rotate(-90)\" text-anchor=\"middle\">"
                + "\(SVGChart.escape(p.yLabel))</text>\n"
            for s in p.series {
                let sorted = s.points.filter { $0.x.isFinite && $0.y.isFinite }.sorted { $0.x < $1.x }
                func clampY(_ y: Double) -> Double { min(max(y, ya), yb) }
                if s.line && sorted.count > 1 {
                    let d = sorted.map { "\(px($0.x)),\(py(clampY($0.y)))" }.joined(separator: " ")
                    out += "<polyline points=\"\(d)\" fill=\"none\" stroke=\"\(s.color)\" stroke-width=\"2\"/>\n"
                }
                for q in sorted {
                    if let (lo, hi) = q.spread, lo.isFinite, hi.isFinite {
                        out += "<line x1=\"\(px(q.x))\" y1=\"\(py(clampY(lo)))\" x2=\"\(px(q.x))\" y2=\"\(py(clampY(hi)))\" "
                            + "stroke=\"\(s.color)\" stroke-width=\"1\"/>\n"
                    }
                    if q.y > yb || q.y < ya {  // off-scale: a triangle on the edge, pointing out, with the value
                        let up = q.y > yb, ey = up ? top : top + ph, dir = up ? -1.0 : 1.0
                        out += "<polygon points=\"\(px(q.x) - 6),\(ey - 2 * dir) \(px(q.x) + 6),\(ey - 2 * dir) "
                            + "\(px(q.x)),\(ey + 8 * dir)\" fill=\"\(s.color)\"/>"
                        out += "<text x=\"\(px(q.x) + 8)\" y=\"\(ey + (up ? 12 : -4))\" font-size=\"11\" fill=\"\(s.color)\">"
                            + "\(String(format: "%.3g", q.y))</text>\n"
                    } else {
                        out += "<circle cx=\"\(px(q.x))\" cy=\"\(py(q.y))\" r=\"\(s.line ? 3.5 : 5)\" fill=\"\(s.color)\"/>\n"
                    }
                }
            }
        }
        for (k, (name, color)) in legend.enumerated() {
            let x = left + Double(k % 2) * 520, y = top + ph + 70 + Double(k / 2) * 20
            out += "<rect x=\"\(x)\" y=\"\(y - 6)\" width=\"24\" height=\"4\" fill=\"\(color)\"/>"
            out += "<text x=\"\(x + 32)\" y=\"\(y)\">\(SVGChart.escape(name))</text>\n"
        }
        return out + "</svg>\n"
    }

    public func write(to path: String) throws { try svg().write(toFile: path, atomically: true, encoding: .utf8) }
}
