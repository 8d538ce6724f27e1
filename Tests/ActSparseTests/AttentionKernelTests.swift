import ActSparse
import CActSparse
import Foundation
import Testing

/// The attention kernels (`actsparse_attend_isa`: one KV head, up to 8 query heads, f32, f16 or q8_0 cache rows) on
/// every instruction set this CPU runs, against a plain Double reference: scores, softmax and the weighted sum.
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

    @Test("fast kernel and its scalar twin: every group size 1…8, head dims 16…256 (24: the scalar twin alone), 1…300 positions (tails of 16), f32, f16 and q8_0 caches, the middle head of three",
          arguments: [16, 24, 64, 128, 256])
    func matchesReference(d: Int) throws {
        var rng = SplitMix(seed: UInt64(d))
        for g in 1...8 {
            for n in [1, 2, 15, 16, 17, 33, 300] where n <= (d == 256 ? 100 : 300) {
                for precision in KVCache.Precision.allCases where precision != .q8_0 || d % 32 == 0 {
                    // The middle of three KV heads (stored head-major: its positions contiguous).
                    let heads = 3, offset = d, width = heads * d
                    let cache = try KVCache(layers: 1, context: n, heads: heads, headDim: d, precision: precision)
                    for t in 0..<n {
                        let k = (0..<width).map { _ in rng.gaussian() * 0.5 }, v = (0..<width).map { _ in rng.gaussian() }
                        cache.store(layer: 0, pos: t, k: k, v: v)
                    }
                    // The reference reads what the cache stores (rounded to f16 or q8_0), as attention does.
                    var keys = [Float](repeating: 0, count: n * width), values = keys
                    for t in 0..<n {
                        for i in 0..<width {
                            keys[t * width + i] = cache.stored(layer: 0, pos: t, index: i)
                            values[t * width + i] = cache.stored(layer: 0, pos: t, index: i, value: true)
                        }
                    }
                    let q = (0..<(g * d)).map { _ in rng.gaussian() }
                    let scale = 1 / Float(d).squareRoot()
                    var out = [Float](repeating: .nan, count: g * d)
                    var scores = [Float](repeating: .nan, count: g * n)
                    let k = cache.rows(layer: 0, head: 1, from: 0), v = cache.rows(layer: 0, head: 1, from: 0, values: true)
                    let stride = cache.positionStride
                    var outs: [(String, [Float])] = []
                    for isa in KernelISA.supported where isa > .scalar {
                        actsparse_attend_isa(isa.rawValue, q, Int32(g), Int32(d), k, v, stride, precision.kernelKind,
                                             Int32(n), scale, &scores, &out)
                        outs.append(("kernel \(isa.name)", out))
                    }
                    var twin = [Float](repeating: .nan, count: g * d)
                    actsparse_attend_scalar(q, Int32(g), Int32(d), k, v, stride, precision.kernelKind, Int32(n), scale,
                                            &scores, &twin)
                    let want = Self.reference(q: q, g: g, d: d, keys: keys, values: values, stride: width, offset: offset,
                                              n: n, scale: scale)
                    let vmax = Double(values.map(abs).max() ?? 1)
                    for (name, got) in outs + [("scalar twin", twin)] {
                        let worst = zip(got, want).reduce(0.0) { w, p in
                            let e = abs(Double(p.0) - p.1)
                            return max(w, e.isNaN ? .infinity : e)
                        }
                        #expect(worst <= Self.relativeTolerance * vmax,
                                "\(name): g \(g), d \(d), n \(n), \(precision): max error \(worst) vs \(Self.relativeTolerance * vmax)")
                    }
                }
            }
        }
    }

    @Test("q8_0 cache rows: blocks of 32 codes and an f16 scale, within half a step of the value; other widths refused")
    func q8Rows() throws {
        let cache = try KVCache(layers: 2, context: 3, heads: 2, headDim: 32, precision: .q8_0)
        var rng = SplitMix(seed: 9)
        let k = (0..<64).map { i in i == 5 ? 0 : rng.gaussian() * 3 }, v = (0..<64).map { _ in rng.gaussian() }
        cache.store(layer: 1, pos: 2, k: k, v: v)
        #expect(cache.bytesPerPosition == 2 * 2 * 34)
        for (row, isValue) in [(k, false), (v, true)] {
            for b in 0..<2 {
                let block = row[(32 * b)..<(32 * b + 32)], step = Float(Float16((block.map(abs).max() ?? 0) / 127))
                for i in block.indices {
                    let got = cache.stored(layer: 1, pos: 2, index: i, value: isValue)
                    #expect(abs(got - row[i]) <= step / 2 + 1e-6, "\(isValue ? "v" : "k")[\(i)] \(got) vs \(row[i])")
                }
            }
        }
        #expect(cache.stored(layer: 1, pos: 2, index: 5) == 0)
        #expect(throws: ActSparseError.self) { try KVCache(layers: 1, context: 1, heads: 1, headDim: 48, precision: .q8_0) }
    }

    @Test("softmax arguments far below the maximum flush to zero weight, not to NaN or ∞")
    func extremeScores() {
        // Two keys: one matches q strongly, one is opposite (a score 400 below): weight e^-400 ≈ 0.
        let d = 16, q = [Float](repeating: 5, count: d)
        var keys = [Float](repeating: 1, count: 2 * d), values = [Float](repeating: 2, count: 2 * d)
        for i in 0..<d { keys[d + i] = -1; values[d + i] = -7 }
        for isa in KernelISA.supported {
            var out = [Float](repeating: .nan, count: d), scores = [Float](repeating: 0, count: 2)
            actsparse_attend_isa(isa.rawValue, q, 1, Int32(d), keys, values, 4 * d, 0, 2, 2.5, &scores, &out)
            #expect(out.allSatisfy { abs($0 - 2) < 1e-6 }, "\(isa.name): \(out)")
        }
    }
}
