import ActSparse
import Foundation

/// The report's plot: ΔNLL (left) and measured decode speed-up (right) against byte-weighted sparsity, one line per
/// variant, the quality budgets' plans as black dots. SVG (real text, round ticks, speed ranges, off-scale points
/// marked). The PNG rasterizer drew the same with block capitals ("DNLL") and clipped ticks; it is gone.
public enum SparsityReportPlot {
    public struct Point {
        public var name: String, byteSparsity: Double, deltaNLL: Double, speedup: Double
        /// Lowest and highest speed-up over the repeats.
        public var speedupRange: (Double, Double)?
        public init(name: String, byteSparsity: Double, deltaNLL: Double, speedup: Double, speedupRange: (Double, Double)?) {
            self.name = name; self.byteSparsity = byteSparsity; self.deltaNLL = deltaNLL; self.speedup = speedup
            self.speedupRange = speedupRange
        }
    }

    /// The report's variants, in legend order, and their colours.
    static let names = ["uniform, MLP only", "allocated, MLP only", "uniform, model-wide", "allocated, model-wide",
                        "allocated per layer, model-wide"]
    static let hex = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd"]

    /// ΔNLL's axis stops at 1 nat (or the largest budget point): steeper points are marked off-scale, not clipped.
    public static func writeSVG(_ points: [Point], title: String, to path: String) throws {
        func series(_ value: (Point) -> Double, _ spread: ((Point) -> (Double, Double)?)?) -> [SVGChart.Series] {
            var out = zip(names, hex).map { name, color in
                SVGChart.Series(name: name, color: color, points: points.filter { $0.name == name }
                    .map { (x: $0.byteSparsity, y: value($0), spread: spread?($0)) })
            }
            out.append(SVGChart.Series(name: "budget plans", color: "#000000", points: points.filter { $0.name.hasPrefix("budget") }
                .map { (x: $0.byteSparsity, y: value($0), spread: spread?($0)) }, line: false))
            return out
        }
        let budgetTop = points.filter { $0.name.hasPrefix("budget") }.map(\.deltaNLL).max() ?? 0
        let chart = SVGChart(title: title, panels: [
            .init(title: "ΔNLL on the evaluation text (nats/token)", xLabel: "byte-weighted sparsity", yLabel: "ΔNLL",
                  series: series({ $0.deltaNLL }, nil), yCap: max(1, budgetTop * 1.2), xPercent: true),
            .init(title: "Decode speed-up vs dense (median, range)", xLabel: "byte-weighted sparsity", yLabel: "× dense",
                  series: series({ $0.speedup }, { $0.speedupRange }), xPercent: true),
        ])
        try chart.write(to: path)
    }
}
