import ActSparse
import Testing

/// Kernel vs Double reference, relative to Σ|x·w| of each output (f32 accumulation over ≤ 640 rows).
let maxGemvError: Float = 2e-6 * 64
/// Prefill re-tiles and sums in another order than the reference.
let maxGemmError: Float = 2e-6 * 64

@Suite("decode and prefill kernels")
struct KernelTests {
    /// Runs the sparse GEMV for `x` at threshold `t` with `threads` workers.
    func decode(_ w: PlainWeights, _ x: [Float], t: Float?, threads: Int) throws -> (y: [Float], kept: Int) {
        let fc = try SparseFC(weights: w, threads: threads)
        let a = SparseActivation(width: w.ic)
        if let t { try a.threshold(x, count: x.count, t: t) } else { try a.keepAll(x, count: x.count) }
        var y = [Float](repeating: .nan, count: w.oc)
        try fc.decode(a, into: &y)
        return (y, a.count)
    }

    /// Threshold at the q-quantile of |x| so that about `sparsity` of the channels are dropped.
    func threshold(_ x: [Float], sparsity: Double) -> Float {
        if sparsity >= 1 { return x.map(abs).max()! }
        if sparsity <= 0 { return 0 }
        let s = x.map(abs).sorted()
        return s[min(s.count - 1, Int(Double(s.count) * sparsity))]
    }

    @Test("sparse GEMV matches the scalar reference: every format, tails, sparsity 0/0.5/0.9/all dropped",
          arguments: allFormats)
    func sparseMatchesReference(format: WeightFormat) throws {
        for (ic, oc) in shapes(for: format) {
            let w = try PlainWeights.quantize(makeWeights(ic: ic, oc: oc, seed: 3), ic: ic, oc: oc, format: format)
            let x = makeActivation(ic, seed: 11)
            for s in [0.0, 0.5, 0.9, 1.0] {
                let t = threshold(x, sparsity: s)
                for threads in [1, 2, 3] {
                    let (y, kept) = try decode(w, x, t: t, threads: threads)
                    let ref = Reference.threshold(x, t: t)
                    #expect(kept == ref.count)
                    expectClose(y, Reference.gemv(w, kept: ref), scale: magnitude(w, kept: ref),
                                rtol: maxGemvError, "\(format) \(ic)x\(oc) s=\(s) threads=\(threads)")
                    if s == 1 { #expect(y.allSatisfy { $0 == 0 }, "all dropped must give zeros") }
                }
            }
        }
    }

    @Test("t = 0 is bit-identical to dense decode, for every thread count", arguments: allFormats)
    func zeroThresholdIsDense(format: WeightFormat) throws {
        for (ic, oc) in shapes(for: format) {
            let w = try PlainWeights.quantize(makeWeights(ic: ic, oc: oc, seed: 5), ic: ic, oc: oc, format: format)
            var x = makeActivation(ic, seed: 13)  // holds exact zeros, which t = 0 drops
            if ic >= 64 { for i in 0..<min(ic, 2 * max(32, format.group)) { x[i] = 0 } }  // whole groups of zeros
            let dense = try decode(w, x, t: nil, threads: 1).y
            for threads in [1, 2, 4] {
                let (sparse, kept) = try decode(w, x, t: 0, threads: threads)
                #expect(kept < ic || ic == 1)
                #expect(sparse.map(\.bitPattern) == dense.map(\.bitPattern), "\(format) \(ic)x\(oc) threads \(threads)")
            }
        }
    }

    @Test("threshold is strict: |x| == t is dropped; kept indices ascend")
    func thresholdEquality() throws {
        let a = SparseActivation(width: 6)
        let x: [Float] = [0.5, -0.5, 0.25, -0.75, 0.5000001, 0]
        try a.threshold(x, count: 6, t: 0.5)
        #expect(a.count == 2)
        #expect(Array(UnsafeBufferPointer(start: a.indices, count: a.count)) == [3, 4])
        #expect(Array(UnsafeBufferPointer(start: a.values, count: a.count)) == [-0.75, 0.5000001])
        try a.threshold(x, count: 6, t: 0)
        #expect(a.count == 5)
    }

    @Test("prefill matches the reference for M = 2, 7 (row GEMVs), 9, 13, 64 (GEMM)", arguments: allFormats)
    func prefillMatchesReference(format: WeightFormat) throws {
        for (ic, oc) in shapes(for: format) where ic * oc <= 320 * 289 {
            let w = try PlainWeights.quantize(makeWeights(ic: ic, oc: oc, seed: 9), ic: ic, oc: oc, format: format)
            for m in [2, 7, 9, 13, 64] {
                let x = makeActivation(m * ic, seed: UInt64(m))
                var scale = [Float](repeating: 0, count: m * oc)
                for r in 0..<m {
                    let mag = magnitude(w, kept: (0..<ic).map { ($0, x[r * ic + $0]) })
                    for o in 0..<oc { scale[r * oc + o] = mag[o] }
                }
                let ref = Reference.gemm(w, x: x, m: m)
                for threads in [1, 2] {
                    let fc = try SparseFC(weights: w, threads: threads)
                    var y = [Float](repeating: .nan, count: m * oc)
                    try fc.prefill(x, m: m, into: &y)
                    expectClose(y, ref, scale: scale, rtol: maxGemmError, "prefill \(format) \(ic)x\(oc) M=\(m)")
                }
            }
        }
    }

    @Test("bad input: shape mismatch, NaN/Inf activations, negative or NaN thresholds, bad kept indices")
    func badInput() throws {
        let w = try PlainWeights.quantize(makeWeights(ic: 64, oc: 40, seed: 1), ic: 64, oc: 40,
                                          format: .init(.int4asym, group: 32))
        let fc = try SparseFC(weights: w, threads: 1)
        var y = [Float](repeating: 0, count: 40)
        let wrong = SparseActivation(width: 63)
        do {
            try fc.decode(wrong, into: &y)
            Issue.record("width 63 accepted for IC 64")
        } catch let e as ActSparseError {
            #expect("\(e)".contains("64") && "\(e)".contains("63"))
        }
        let a = SparseActivation(width: 64)
        var x = makeActivation(64, seed: 2)
        #expect(throws: ActSparseError.self) { try a.threshold(x, count: 64, t: -0.1) }
        #expect(throws: ActSparseError.self) { try a.threshold(x, count: 64, t: .nan) }
        #expect(throws: ActSparseError.self) { try a.threshold(x, count: 63, t: 0.1) }
        x[17] = .nan
        do {
            try a.threshold(x, count: 64, t: 0.1)
            Issue.record("NaN activation accepted")
        } catch let e as ActSparseError {
            #expect("\(e)".contains("x[17]"))
        }
        x[17] = .infinity
        #expect(throws: ActSparseError.self) { try a.keepAll(x, count: 64) }
        #expect(throws: ActSparseError.self) { try fc.prefill(x + x, m: 2, into: &y) }
        #expect(throws: ActSparseError.self) { try a.assign(indices: [3, 2], values: [1, 1], count: 2) }
        #expect(throws: ActSparseError.self) { try a.assign(indices: [64], values: [1], count: 1) }
    }
}

@Suite("activation functions")
struct ActivationTests {
    /// The polynomial e^x against Foundation's, relative.
    let maxExpError: Float = 1e-6

    @Test("SwiGLU.exp matches expf over −87…88; apply matches the scalar silu(g)·u, tails included")
    func expAndSwiGLU() {
        var x = SIMD16<Float>()
        var worst: Float = 0
        for k in stride(from: -87.0 as Float, through: 88, by: 0.37) {
            for i in 0..<16 { x[i] = k + Float(i) * 0.0231 }
            let e = SwiGLU.exp(x)
            for i in 0..<16 { worst = max(worst, abs(e[i] - expf(x[i])) / expf(x[i])) }
        }
        #expect(worst <= maxExpError, "worst relative error \(worst)")
        let n = 37
        let g = makeActivation(n, seed: 3, zeros: false).map { $0 * 4 }, u = makeActivation(n, seed: 4, zeros: false)
        var a = [Float](repeating: 0, count: n)
        SwiGLU.apply(gate: g, up: u, into: &a, count: n)
        for i in 0..<n {
            let want = g[i] / (1 + expf(-g[i])) * u[i]
            #expect(abs(a[i] - want) <= 1e-5 * max(1, abs(want)), "[\(i)] \(a[i]) vs \(want)")
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
