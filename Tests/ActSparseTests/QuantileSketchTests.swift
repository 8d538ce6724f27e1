import ActSparse
import Foundation
import Testing

@Suite("quantile sketch")
struct QuantileSketchTests {
    /// The calibrator's exact definition: the ⌊n·q⌋-th smallest |x|.
    func exact(_ v: [Float], _ q: Double) -> Float {
        let s = v.map(abs).sorted()
        return q <= 0 ? 0 : s[min(s.count - 1, Int(Double(s.count) * q))]
    }

    @Test("matches the exact quantiles within relativeTolerance: Laplace, outliers, zeros, wide range, tiny n")
    func matchesExact() {
        var rng = SplitMix(seed: 21)
        let cases: [(String, [Float])] = [
            ("laplace", (0..<200_000).map { _ in rng.laplace() }),
            ("outliers", (0..<50_000).map { i in rng.gaussian() * (i % 97 == 0 ? 300 : 1) }),
            ("zeros", (0..<30_000).map { i in i % 3 == 0 ? 0 : rng.gaussian() }),
            ("range", (0..<40_000).map { _ in expf(40 * (rng.uniform() - 0.5)) }),
            ("one", [3.5]),
            ("seven", [1, -2, 3, 0.5, -0.25, 8, 1e-3]),
        ]
        for (name, v) in cases {
            var s = QuantileSketch()
            // in chunks, as calibration adds rows
            for start in stride(from: 0, to: v.count, by: 4096) { s.add(Array(v[start..<min(v.count, start + 4096)])) }
            #expect(s.samples == UInt64(v.count))
            for q in stride(from: 0.05, through: 0.95, by: 0.05) + [0, 0.999, 1] {
                let want = exact(v, q), got = s.quantile(q)
                #expect(abs(got - want) <= QuantileSketch.relativeTolerance * want + 1e-37,
                        "\(name) q=\(q): sketch \(got), exact \(want)")
            }
        }
        #expect(QuantileSketch().quantile(0.5) == 0, "no samples")
    }
}
