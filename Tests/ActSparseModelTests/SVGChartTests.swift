import ActSparseTools
import Foundation
import Testing

/// The report's SVG: round ticks, real text, off-scale points marked rather than clipped, speed ranges drawn.
@Suite("SVG chart")
struct SVGChartTests {
    @Test("ticks are 1, 2 or 5 × 10^k and cover the range")
    func ticks() {
        #expect(SVGChart.ticks(0, 0.73) == [0, 0.2, 0.4, 0.6, 0.8])
        #expect(SVGChart.ticks(0.8, 6.43) == [0, 2, 4, 6, 8])
        #expect(SVGChart.ticks(-0.013, 0.1).first! <= -0.013 && SVGChart.ticks(-0.013, 0.1).last! >= 0.1)
        for (lo, hi) in [(0.0, 1e-7), (3.0, 3e9), (-5.0, -1.0)] {
            let t = SVGChart.ticks(lo, hi)
            let step = t[1] - t[0], e = pow(10, floor(log10(step)))
            #expect([1.0, 2, 5, 10].contains { abs(step - $0 * e) < e * 1e-6 }, "\(lo)…\(hi): step \(step)")
            #expect(t.first! <= lo && t.last! >= hi && (2...8).contains(t.count), "\(lo)…\(hi): \(t)")
        }
    }

    @Test("a point above a capped axis becomes a marker with its value; Δ and ranges are in the text")
    func offScale() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("report-\(UUID()).svg").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let points = [SparsityReportPlot.Point(name: "uniform, MLP only", byteSparsity: 0.1, deltaNLL: 0.05, speedup: 1.1,
                                               speedupRange: (1.0, 1.2)),
                      SparsityReportPlot.Point(name: "uniform, MLP only", byteSparsity: 0.6, deltaNLL: 7.5, speedup: 1.9,
                                               speedupRange: (1.7, 2.1))]
        try SparsityReportPlot.writeSVG(points, title: "t", to: path)
        let svg = try String(contentsOfFile: path, encoding: .utf8)
        #expect(svg.contains("ΔNLL") && svg.contains("<polygon") && svg.contains(">7.5</text>"), "\(svg.prefix(400))")
        #expect(svg.components(separatedBy: "<circle").count - 1 == 3, "two in range on the speed panel, one on ΔNLL")
        #expect(svg.contains("uniform, MLP only") && svg.hasPrefix("<svg") && svg.hasSuffix("</svg>\n"))
        #expect(!svg.contains("nan") && !svg.contains("inf"), "non-finite coordinates")
    }
}
