import ActSparse
import Testing

/// The formats with an int8 path (integer codes in groups) and shapes with full 128-column tiles, partial tiles,
/// and tail columns past the last full 32-column block.
let int8Formats: [WeightFormat] = [
    try! WeightFormat(.int8group, group: 32), try! WeightFormat(.int4sym, group: 32),
    try! WeightFormat(.int4sym, group: 64), try! WeightFormat(.int4asym, group: 32),
    try! WeightFormat(.int4asym, group: 128), try! WeightFormat(.int5sym, group: 32),
    try! WeightFormat(.int5asym, group: 64), try! WeightFormat(.q4k), try! WeightFormat(.q5k), try! WeightFormat(.q6k),
]

func int8Shapes(for f: WeightFormat) -> [(ic: Int, oc: Int)] {
    let g = max(f.group, f.traits.superBlock)
    return [(g, 37), (2 * g, 1), (g, 100), (2 * g, 416), (g, 289), (3 * g, 512)]
}

/// Every instruction set this CPU runs (AVX-512 VNNI, AVX-VNNI, AVX2, scalar) is compared with the scalar twin.
@Suite("int8-activation decode and prefill on every instruction set this CPU runs")
struct Int8DecodeTests {
    /// x̂ the independent way: per weight group, xs = max|x| / 127 and q = round(x / xs).
    func dequantized(_ kept: [(Int, Float)], group: Int) -> [(Int, Float)] {
        var amax: [Int: Float] = [:]
        for (i, x) in kept { amax[i / group] = max(amax[i / group] ?? 0, abs(x)) }
        return kept.map { i, x in
            let m = amax[i / group]!, xs = m / 127
            return (i, m > 0 ? xs * (x * (127 / m)).rounded() : 0)
        }
    }

    func run(_ w: PlainWeights, _ x: [Float], t: Float?, threads: Int, isa: KernelISA = .active,
             reference: Bool = false) throws -> ([Float], SparseActivation) {
        let fc = try SparseFC(weights: w, threads: threads)
        fc.activations = .int8
        fc.isa = isa
        #expect(fc.decodesInt8 == (w.format.traits.codec != .i8))  // 8-bit codes: decode keeps f32 (measured faster)
        let a = SparseActivation(width: w.ic)
        if let t { try a.threshold(x, count: x.count, t: t) } else { try a.keepAll(x, count: x.count) }
        var y = [Float](repeating: .nan, count: w.oc)
        if reference { try fc.decodeInt8Reference(a, into: &y) } else if fc.decodesInt8 { try fc.decode(a, into: &y) }
        else { try fc.decodeInt8(a, into: &y) }
        return (y, a)
    }

    @Test("equals its scalar twin bit for bit and the Double reference on the int8 activations: tails, nothing kept, all kept, 1/2/3 threads",
          arguments: int8Formats)
    func matchesReferences(format: WeightFormat) throws {
        for (ic, oc) in int8Shapes(for: format) {
            let w = try PlainWeights.quantize(makeWeights(ic: ic, oc: oc, seed: 7), ic: ic, oc: oc, format: format)
            let x = makeActivation(ic, seed: 17)
            let mags = x.map(abs).sorted()
            // nil = every channel kept (the dense path); then about 50 %, 90 % and all dropped
            for t in [nil, mags[ic / 2], mags[min(ic - 1, ic * 9 / 10)], mags[ic - 1]] as [Float?] {
                let (twin, _) = try run(w, x, t: t, threads: 1, reference: true)
                for isa in KernelISA.supported { for threads in [1, 2, 3] {
                    let (y, a) = try run(w, x, t: t, threads: threads, isa: isa)
                    let what = "\(format) \(ic)x\(oc) t=\(t.map { "\($0)" } ?? "all") \(isa.name) threads=\(threads)"
                    let kept = t.map { Reference.threshold(x, t: $0) } ?? x.enumerated().map { ($0.offset, $0.element) }
                    #expect(a.count == kept.count)
                    let xq = dequantized(kept, group: format.group)
                    // One thread, or workers splitting the columns: the twin's bits. Workers splitting the kept
                    // groups (short rows, `q8SplitsRows`) add their partial sums in another order.
                    if try threads == 1 || !SparseFC(weights: w, threads: threads).q8SplitsRows {
                        #expect(y.map(\.bitPattern) == twin.map(\.bitPattern), "\(what): kernel vs scalar twin")
                    } else {
                        expectClose(y, twin, scale: magnitude(w, kept: xq), rtol: maxGemvError, "\(what): kernel vs scalar twin")
                    }
                    expectClose(y, Reference.gemv(w, kept: xq), scale: magnitude(w, kept: xq), rtol: maxGemvError, what)
                    if kept.isEmpty { #expect(y.allSatisfy { $0 == 0 }, "\(what): nothing kept must give zeros") }
                } }
            }
        }
    }

    @Test("prefill GEMM: equals its scalar twin bit for bit and the Double reference on each row's int8 activations: odd M, tails, 1/2/3 threads",
          arguments: int8Formats)
    func prefillMatchesReferences(format: WeightFormat) throws {
        for (ic, oc) in int8Shapes(for: format) {
            let w = try PlainWeights.quantize(makeWeights(ic: ic, oc: oc, seed: 8), ic: ic, oc: oc, format: format)
            for m in [9, 12, 130] {  // > gemvRowsMax: the GEMM; odd and even counts; 130: blocks of 64 rows and a tail
                var x = (0..<m).flatMap { makeActivation(ic, seed: 30 + UInt64($0)) }
                for i in 0..<min(ic, format.group) { x[i] = 0 }  // a whole group of zeros in row 0
                let fc = try SparseFC(weights: w, threads: 1)
                fc.activations = .int8
                var twin = [Float](repeating: .nan, count: m * oc)
                try fc.prefillInt8Reference(x, m: m, into: &twin)
                for r in [0, m - 1] {
                    let kept = dequantized((0..<ic).map { ($0, x[r * ic + $0]) }, group: format.group)
                    expectClose(Array(twin[(r * oc)..<((r + 1) * oc)]), Reference.gemv(w, kept: kept),
                                scale: magnitude(w, kept: kept), rtol: maxGemvError, "\(format) \(ic)x\(oc) twin row \(r)")
                }
                for isa in KernelISA.supported where isa > .scalar { for threads in [1, 2, 3] {
                    let f = try SparseFC(weights: w, threads: threads)
                    f.activations = .int8
                    f.isa = isa
                    guard f.prefillsInt8 else { continue }  // 8-bit codes too: prefill is compute-bound
                    var y = [Float](repeating: .nan, count: m * oc)
                    try f.prefill(x, m: m, into: &y)
                    let what = "\(format) \(ic)x\(oc) M=\(m) \(isa.name) threads=\(threads)"
                    #expect(y.map(\.bitPattern) == twin.map(\.bitPattern), "\(what): kernel vs scalar twin")
                    for r in [0, m - 1] {
                        let kept = dequantized((0..<ic).map { ($0, x[r * ic + $0]) }, group: format.group)
                        expectClose(Array(y[(r * oc)..<((r + 1) * oc)]), Reference.gemv(w, kept: kept),
                                    scale: magnitude(w, kept: kept), rtol: maxGemvError, "\(what) row \(r)")
                    }
                } }
            }
        }
    }

    @Test("the int8 activations stay close to the exact f32 result (per-group int8 rounding only)")
    func closeToExact() throws {
        let format = try WeightFormat(.q4k), ic = 512, oc = 300
        let w = try PlainWeights.quantize(makeWeights(ic: ic, oc: oc, seed: 9), ic: ic, oc: oc, format: format)
        let x = makeActivation(ic, seed: 19)
        let (y, _) = try run(w, x, t: nil, threads: 2)
        let kept = x.enumerated().map { ($0.offset, $0.element) }
        // |x − x̂| ≤ xs/2 = max|x|/254 per group: the error is at most 1/254 of Σ|x·w| (and far less on average).
        expectClose(y, Reference.gemv(w, kept: kept), scale: magnitude(w, kept: kept), rtol: 1 / 254, "int8 vs f32")
    }

    @Test("formats without integer codes in groups keep the exact f32 path under .int8")
    func floatFormatsStayExact() throws {
        for format in [try WeightFormat(.f16), try WeightFormat(.int8sym), try WeightFormat(.bf16)] {
            let w = try PlainWeights.quantize(makeWeights(ic: 64, oc: 100, seed: 2), ic: 64, oc: 100, format: format)
            let fc = try SparseFC(weights: w, threads: 2), exact = try SparseFC(weights: w, threads: 2)
            fc.activations = .int8
            #expect(!fc.decodesInt8, "\(format)")
            let a = SparseActivation(width: 64)
            try a.keepAll(makeActivation(64, seed: 4), count: 64)
            var y = [Float](repeating: 0, count: 100), z = y
            try fc.decode(a, into: &y)
            try exact.decode(a, into: &z)
            #expect(y.map(\.bitPattern) == z.map(\.bitPattern), "\(format)")
        }
    }
}
