import ActSparse
import CActSparse
import Foundation
import Testing

/// The attention kernel (`actsparse_attend`: one KV head, up to 8 query heads, f32 or f16 cache rows) against a
/// plain Double reference: scores, softmax and the weighted sum of values.
@Suite("attention kernel")
struct AttentionKernelTests {
    /// Named tolerance: f32 accumulation over ≤ 256 dims and ≤ 1000 positions, with the kernel's polynomial exp
    /// (< 2^-23 relative) — the output error relative to max |v|.
    static let relativeTolerance = 2e-5

    /// out [g][d] for q [g][d], keys and values [n][stride elements] (the head at `offset`), in Double.
    static func reference(q: [Float], g: Int, d: Int, keys: [Float], values: [Float], stride: Int, offset: Int,
                          n: Int, scale: Float) -> [Double] {
        var out = [Double](repeating: 0, count: g * d)
        for j in 0..<g {
            var s = [Double](repeating: 0, count: n)
            for t in 0..<n {
                var dot = 0.0
                for i in 0..<d { dot += Double(q[j * d + i]) * Double(keys[t * stride + offset + i]) }
                s[t] = dot * Double(scale)
            }
            let mx = s.max() ?? 0
            let e = s.map { Foundation.exp($0 - mx) }, sum = e.reduce(0, +)
            for t in 0..<n {
                for i in 0..<d { out[j * d + i] += e[t] / sum * Double(values[t * stride + offset + i]) }
            }
        }
        return out
    }

    @Test("every group size 1…8, head dims 16…256, 1…300 positions (tails of 16), f32 and f16 rows, a head inside a wider row",
          arguments: [16, 64, 128, 256])
    func matchesReference(d: Int) throws {
        var rng = SplitMix(seed: UInt64(d))
        for g in 1...8 {
            for n in [1, 2, 15, 16, 17, 33, 300] where n <= (d == 256 ? 100 : 300) {
                for half in [false, true] {
                    let heads = 3, offset = d  // the middle of three KV heads: the row stride is 3·d elements
                    let stride = heads * d
                    let q = (0..<(g * d)).map { _ in rng.gaussian() }
                    // Rounded to f16 first, so that both sides see the same cache values.
                    var keys = (0..<(n * stride)).map { _ in rng.gaussian() * 0.5 }
                    var values = (0..<(n * stride)).map { _ in rng.gaussian() }
                    if half {
                        keys = keys.map { Float(Float16($0)) }
                        values = values.map { Float(Float16($0)) }
                    }
                    let scale = 1 / Float(d).squareRoot()
                    var out = [Float](repeating: .nan, count: g * d)
                    var scores = [Float](repeating: .nan, count: g * n)
                    let kb: [UInt8], vb: [UInt8]
                    if half {
                        kb = keys.map { Float16($0) }.withUnsafeBytes { Array($0) }
                        vb = values.map { Float16($0) }.withUnsafeBytes { Array($0) }
                    } else {
                        kb = keys.withUnsafeBytes { Array($0) }
                        vb = values.withUnsafeBytes { Array($0) }
                    }
                    let e = half ? 2 : 4
                    kb.withUnsafeBytes { k in
                        vb.withUnsafeBytes { v in
                            actsparse_attend(q, Int32(g), Int32(d), k.baseAddress! + offset * e, v.baseAddress! + offset * e,
                                             stride * e, half ? 1 : 0, Int32(n), scale, &scores, &out)
                        }
                    }
                    let want = Self.reference(q: q, g: g, d: d, keys: keys, values: values, stride: stride, offset: offset,
                                              n: n, scale: scale)
                    let vmax = Double(values.map(abs).max() ?? 1)
                    let worst = zip(out, want).reduce(0.0) { w, p in max(w, abs(Double(p.0) - p.1).isNaN ? .infinity : abs(Double(p.0) - p.1)) }
                    #expect(worst <= Self.relativeTolerance * vmax,
                            "g \(g), d \(d), n \(n), \(half ? "f16" : "f32"): max error \(worst) vs \(Self.relativeTolerance * vmax)")
                }
            }
        }
    }

    @Test("softmax arguments far below the maximum flush to zero weight, not to NaN or ∞")
    func extremeScores() {
        // Two keys: one matches q strongly, one is opposite (a score 400 below): weight e^-400 ≈ 0.
        let d = 16, q = [Float](repeating: 5, count: d)
        var keys = [Float](repeating: 1, count: 2 * d), values = [Float](repeating: 2, count: 2 * d)
        for i in 0..<d { keys[d + i] = -1; values[d + i] = -7 }
        var out = [Float](repeating: .nan, count: d), scores = [Float](repeating: 0, count: 2)
        actsparse_attend(q, 1, Int32(d), keys, values, 4 * d, 0, 2, 2.5, &scores, &out)
        #expect(out.allSatisfy { abs($0 - 2) < 1e-6 }, "\(out)")
    }
}
