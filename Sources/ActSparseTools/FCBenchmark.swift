import ActSparse

/// `actsparse bench fc`: one run measures the read-bandwidth probe, dense decode, sparse decode at each sparsity
/// (kept channels drawn at random, exact kept fraction) and prefill GFLOP/s, per format and thread count.
/// Weights are cycled through copies totalling ≥ `coldBytes` so that decode figures are memory, not L3.
public struct FCBenchmark {
    public struct Config {
        public var ic = 4096, oc = 11008
        public var formats: [WeightFormat] = []
        public var sparsities: [Double] = [0, 0.5, 0.7, 0.8]
        public var threads: [Int] = [1]
        public var activations: [ActivationPrecision] = [.f32]
        public var prefillM: [Int] = [128]
        public var iterations = 30
        public var coldBytes = 256 << 20
        public var seed: UInt64 = 1
        public init() {}
    }

    public struct Row {
        public var shape: String
        public var kind: String  // "read", "dense", "sparse", "prefill"
        public var format: String
        public var m: Int
        public var threads: Int
        public var sparsity: Double
        public var medianMs: Double
        public var effectiveGBps: Double
        public var readGBps: Double
        public var speedupVsDense: Double
        public var gflops: Double
        public var pctOfRead: Double { readGBps > 0 ? 100 * effectiveGBps / readGBps : .nan }
    }

    public let config: Config
    public init(config: Config) { self.config = config }

    public func run(emit: (Row) -> Void) throws {
        let c = config
        let shape = "\(c.ic)x\(c.oc)"
        let probe = try ReadBandwidth()
        var read: [Int: Double] = [:]
        for t in c.threads {
            read[t] = probe.measure(threads: t)
            emit(Row(shape: shape, kind: "read", format: "-", m: 0, threads: t, sparsity: 0, medianMs: .nan,
                     effectiveGBps: read[t]!, readGBps: read[t]!, speedupVsDense: .nan, gflops: .nan))
        }
        // f32 source weights, Gaussian; activations Gaussian.
        var rng = SplitMix(seed: c.seed)
        var w = [Float](repeating: 0, count: c.ic * c.oc)
        for i in 0..<w.count { w[i] = rng.gaussian() * 0.02 }
        var x = [Float](repeating: 0, count: c.ic)
        for i in 0..<c.ic { x[i] = rng.gaussian() }

        for format in c.formats {
            let first = try w.withUnsafeBufferPointer {
                try PlainWeights.quantize($0.baseAddress!, ic: c.ic, oc: c.oc, format: format)
            }
            let copies = [first] + (1..<max(1, (c.coldBytes + first.bytes - 1) / first.bytes)).map { _ in first.copy() }
            for (t, precision) in c.threads.flatMap({ t in c.activations.map { (t, $0) } }) {
                let fcs = try copies.map { try SparseFC(weights: $0, threads: t) }
                for fc in fcs { fc.activations = precision }
                if precision == .int8 && !fcs[0].decodesInt8 { continue }  // no int8 path for this format/build
                let label = precision == .int8 ? "\(format)/int8" : "\(format)"
                let yBuffer = try AlignedBuffer(bytes: c.oc * 4)
                let y = yBuffer.pointer(as: Float.self)
                let act = SparseActivation(width: c.ic)
                // Dense decode: the same kernel with every row kept.
                try act.keepAll(x, count: c.ic)
                let dense = time(fcs, act, y)
                let denseBytes = Double(first.bytesRead(kept: act.indices, count: act.count))
                emit(Row(shape: shape, kind: "dense", format: label, m: 1, threads: t, sparsity: 0,
                         medianMs: dense * 1e3, effectiveGBps: denseBytes / dense * 1e-9, readGBps: read[t]!,
                         speedupVsDense: 1, gflops: 2 * Double(c.ic * c.oc) / dense * 1e-9))
                for s in c.sparsities {
                    let keep = Int((Double(c.ic) * (1 - s)).rounded())
                    var chosen = Array(0..<c.ic)
                    for i in 0..<keep { chosen.swapAt(i, i + Int(rng.next() % UInt64(c.ic - i))) }
                    let idx = chosen[0..<keep].sorted().map { Int32($0) }
                    let vals = idx.map { x[Int($0)] }
                    try act.assign(indices: idx, values: vals, count: keep)
                    let sec = time(fcs, act, y)
                    let bytes = Double(first.bytesRead(kept: act.indices, count: act.count))
                    emit(Row(shape: shape, kind: "sparse", format: label, m: 1, threads: t, sparsity: s,
                             medianMs: sec * 1e3, effectiveGBps: bytes / sec * 1e-9, readGBps: read[t]!,
                             speedupVsDense: dense / sec, gflops: .nan))
                }
                for m in c.prefillM {
                    var xm = [Float](repeating: 0, count: m * c.ic)
                    for i in 0..<xm.count { xm[i] = rng.gaussian() }
                    let ymBuffer = try AlignedBuffer(bytes: m * c.oc * 4)
                    let ym = ymBuffer.pointer(as: Float.self)
                    let fc = fcs[0]
                    try fc.prefill(xm, m: m, into: ym)  // warm-up, sizes scratch
                    var times: [Double] = []
                    for _ in 0..<max(3, c.iterations / 6) {
                        times.append(try Timing.seconds { try fc.prefill(xm, m: m, into: ym) })
                    }
                    let sec = Timing.median(times)
                    emit(Row(shape: shape, kind: "prefill", format: label, m: m, threads: t, sparsity: 0,
                             medianMs: sec * 1e3, effectiveGBps: Double(first.bytes) / sec * 1e-9,
                             readGBps: read[t]!, speedupVsDense: .nan,
                             gflops: 2 * Double(m * c.ic * c.oc) / sec * 1e-9))
                }
            }
        }
    }

    /// Median seconds of one decode, cycling through the copies so each call reads cold weights.
    func time(_ fcs: [SparseFC], _ act: SparseActivation, _ y: UnsafeMutablePointer<Float>) -> Double {
        for fc in fcs { _ = try? fc.decode(act, into: y) }  // warm-up: page in, spin up workers
        var times: [Double] = []
        times.reserveCapacity(config.iterations)
        for it in 0..<max(config.iterations, fcs.count) {
            let fc = fcs[it % fcs.count]
            times.append(Timing.seconds { _ = try? fc.decode(act, into: y) })
        }
        return Timing.median(times)
    }
}
