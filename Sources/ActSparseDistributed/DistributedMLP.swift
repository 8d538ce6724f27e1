import ActSparse

/// A gated MLP, out = down(act(gate(h)) ⊙ up(h)) with the family's activation (SwiGLU: silu, GeGLU: GELU),
/// sharded over the ranks of a communicator.
///
/// Per decode token (h and out live on rank 0):
/// - `gather` (the original protocol): rank 0 thresholds h → broadcast count, then indices + values → every rank runs
///   gate/up on its OC slice and forms its slice of a → gatherv a to rank 0 → rank 0 thresholds a → broadcast →
///   every rank runs down on its OC slice of the hidden dimension → gatherv out.
/// - `reduce`: the same broadcast in; down is sliced by IC on the intermediate slice the rank already holds, so
///   it thresholds its own slice of a locally, runs down over its rows for all of out, and one reduce-sum brings
///   out to rank 0. One message in, one out.
///
/// `replicated` (whole-model tensor parallelism): h is already on every rank, identical, so each thresholds it
/// itself (no message in), and out must end on every rank: `gather` all-gathers a (each rank thresholds the
/// same a) and out; `reduce` ends in one all-reduce.
public final class DistributedMLP: FeedForward {
    public enum Mode: String, CaseIterable, Sendable { case gather, reduce }

    public let comm: Communicator
    public let mode: Mode
    public let hidden: Int
    public let intermediate: Int
    /// The model layer this MLP is (named in errors).
    public let layer: Int
    /// The gate's activation (per model, not per MLP kind).
    public let activation: GatedActivation
    /// h and out live on every rank (whole-model tensor parallelism), not only on rank 0.
    public let replicated: Bool
    /// Intermediate columns per rank (gate/up OC slices; in reduce mode also down's IC slices).
    public let interPlan: ShardPlan
    /// Hidden columns per rank (down's OC slices, gather mode).
    public let hiddenPlan: ShardPlan
    /// This rank's slices as a one-process MLP: gate/up [H, I_r], down [I, H_r] (gather) or [I_r, H] (reduce).
    /// It runs the two halves; this type adds the collectives between them.
    public let local: SparseMLP
    /// Thresholds on |h| (gate/up input) and |a| (down input), the same on every rank.
    public var thresholdGateUp: Float { get { local.thresholdGateUp } set { local.thresholdGateUp = newValue } }
    public var thresholdDown: Float { get { local.thresholdDown } set { local.thresholdDown = newValue } }
    /// Prefill drops the channels under the thresholds too (zeroes them): sparse decode's arithmetic, batched.
    /// Set on every rank alike (calibration runs one rank); off for serving.
    public var thresholdPrefill: Bool { get { local.thresholdPrefill } set { local.thresholdPrefill = newValue } }

    // MARK: Scratch, allocated once
    /// kept channels of h (width H), of a (down's IC: I in gather mode, I_r in reduce mode): the local MLP's
    var keptH: SparseActivation { local.keptH }
    var keptA: SparseActivation { local.keptA }
    /// [I_r] a = act(gate)·up of this rank's slice: the local MLP's
    var g: UnsafeMutablePointer<Float> { local.a }
    /// [max(H, I)] the gathered a (rank 0, gather mode); a test's poisoned copy of h
    let aFull: UnsafeMutablePointer<Float>
    /// [H] this rank's down output: gather mode uses the first H_r; reduce mode all H (a partial sum)
    let part: UnsafeMutablePointer<Float>
    /// Prefill scratch, grown to the longest prompt: x [M, H], a [M, I_r], down's output [M, H_r] or [M, H]
    let xScratch = GrowableBuffer(), aScratch = GrowableBuffer(), outScratch = GrowableBuffer()
    /// [max(H, I)] wire buffer: kept indices then values
    let wire: UnsafeMutableRawPointer

    // MARK: Statistics (reset with `resetStats`)
    public private(set) var commNanos: UInt64 = 0
    public var tokens: Int { local.tokens }
    public var keptGateUp: Int { local.keptGateUp }
    public var keptDown: Int { local.keptDown }
    public var channelsDown: Int { local.channelsDown }
    /// Bytes of weights (codes + scales) this rank's decode GEMVs read.
    public var bytesRead: Int { local.bytesRead }
    /// Bytes this rank sent or received in decode messages (payloads only).
    public private(set) var messageBytes = 0

    /// `slice(name, rows, cols)` returns W[rows, cols] of FC `name` ∈ {gate, up, down} (gate/up are [H, I],
    /// down is [I, H]) in the plain layout. A rank asks only for its own slices. `align` is the quantization
    /// group along IC (intermediate slices cut down's IC in reduce mode).
    /// `packing` is the prefill packing scratch, shareable by MLPs that run one after another.
    public init(comm: Communicator, mode: Mode, hidden: Int, intermediate: Int, align: Int, threads: Int,
                layer: Int = 0, activation: GatedActivation = .silu, packing: GrowableBuffer = GrowableBuffer(),
                replicated: Bool = false, slice: (String, Range<Int>, Range<Int>) throws -> PlainWeights) throws {
        self.comm = comm
        self.replicated = replicated
        self.mode = mode
        self.hidden = hidden
        self.intermediate = intermediate
        self.layer = layer
        self.activation = activation
        interPlan = try ShardPlan(total: intermediate, ranks: comm.size, align: max(32, align))
        hiddenPlan = try ShardPlan(total: hidden, ranks: comm.size, align: 32)
        let mine = interPlan.slices[comm.rank]
        func fc(_ name: String, _ rows: Range<Int>, _ cols: Range<Int>) throws -> SparseFC {
            let w = try slice(name, rows, cols)
            guard w.ic == rows.count, w.oc == cols.count else {
                throw ActSparseError.shape(what: "\(name) slice", expected: "[\(rows.count), \(cols.count)]",
                                           found: "[\(w.ic), \(w.oc)]")
            }
            return try SparseFC(weights: w, threads: threads, packing: packing)
        }
        let gate = try fc("gate", 0..<hidden, mine), up = try fc("up", 0..<hidden, mine)
        let down = switch mode {
        case .gather: try fc("down", 0..<intermediate, hiddenPlan.slices[comm.rank])
        case .reduce: try fc("down", mine, 0..<hidden)
        }
        local = try SparseMLP(gate: gate, up: up, down: down, layer: layer, activation: activation)
        aFull = .allocate(capacity: max(hidden, intermediate))
        part = .allocate(capacity: hidden)
        wire = .allocate(byteCount: 8 * max(hidden, intermediate), alignment: 64)
    }

    deinit {
        aFull.deallocate(); part.deallocate(); wire.deallocate()
    }

    /// Called in prefill with (x [M, H], a [M, sliceWidth], M) on one rank, or on every rank when `replicated`
    /// (x the same everywhere, a this rank's intermediate slice): calibration reads the MLP inputs here.
    public var capture: ((UnsafePointer<Float>, UnsafePointer<Float>, Int) -> Void)? {
        get { local.capture }
        set { local.capture = comm.size == 1 || replicated ? newValue : nil }
    }

    /// Columns of the intermediate activation this rank holds.
    public var sliceWidth: Int { interPlan.slices[comm.rank].count }

    /// Called in prefill with (a, M) as this rank's down projection reads it, [M, downInputWidth]: all of a in
    /// gather mode, this rank's slice in reduce mode. What an output-error probe squares.
    public var downCapture: ((UnsafePointer<Float>, Int) -> Void)?
    public var downInputWidth: Int { mode == .gather ? intermediate : sliceWidth }

    /// Bytes of weights this rank holds (codes + scales of its three slices).
    public var bytesHeld: Int { local.bytesHeld }

    public var linears: [SparseFC] { local.linears }

    /// The FCs (this rank's slices) a site feeds: gate and up, or down; empty for the attention sites.
    public func fcs(for site: SparsitySite) -> [SparseFC] { local.fcs(for: site) }

    public func resetStats() { local.resetStats(); commNanos = 0; messageBytes = 0 }

    /// Realized sparsity of the gate/up input and of the down input over the tokens since `resetStats`.
    public var realizedSparsity: (gateUp: Double, down: Double) { local.realizedSparsity }

    @inline(__always) func timed(_ body: () throws -> Void) rethrows {
        let t0 = Timing.now()
        try body()
        commNanos &+= Timing.now() - t0
    }
}

// MARK: - Decode (M = 1)

extension DistributedMLP {
    /// out[H] = MLP(h[H]) for one token. `h` and `out` are read/written on rank 0 only (nil elsewhere), or on
    /// every rank when `replicated`.
    /// Each rank checks what it sends for NaN/∞, so a bad value is reported by the rank that made it, at its step;
    /// any failure names the layer and step (`ProtocolError`).
    public func decode(_ h: UnsafePointer<Float>?, into out: UnsafeMutablePointer<Float>?) throws {
        let mine = interPlan.slices[comm.rank]
        // 1. rank 0 thresholds h; one broadcast of the survivors (replicated: every rank thresholds its own h).
        try step(.keptH) {
            if replicated {
                try FaultInjection.at(.keptH, rank: comm.rank, layer: layer)
                try keptH.threshold(try everyRank(h, "MLP input"), count: hidden, t: thresholdGateUp)
                return
            }
            if comm.isRoot {
                guard let h else { throw ActSparseError.invalidValue(what: "MLP input", expected: "h on rank 0", found: "nil") }
                if FaultInjection.configured != nil {  // a test poisons a copy, never the caller's h
                    aFull.update(from: h, count: hidden)
                    try FaultInjection.at(.keptH, rank: comm.rank, layer: layer, payload: aFull, count: hidden)
                    try keptH.threshold(aFull, count: hidden, t: thresholdGateUp)
                } else {
                    try keptH.threshold(h, count: hidden, t: thresholdGateUp)
                }
            } else {
                try FaultInjection.at(.keptH, rank: comm.rank, layer: layer)
            }
            try broadcastKept(keptH)
        }
        // 2. gate and up on my intermediate slice: a = act(gate)·up into g.
        try local.gateUp(keptH, into: g)
        switch mode {
        case .gather:
            // 3. a to rank 0, thresholded there, broadcast back; down on my hidden slice; out gathered.
            try step(.a) {
                try FaultInjection.at(.a, rank: comm.rank, layer: layer, payload: g, count: mine.count)
                try checkOutgoing(g, count: mine.count, what: "a")
                if replicated {
                    try timed { try comm.allGatherv(g, count: mine.count, into: aFull, counts: interPlan.counts) }
                } else {
                    try timed { try comm.gatherv(g, count: mine.count, into: aFull, counts: interPlan.counts, root: 0) }
                }
            }
            if comm.size > 1 { messageBytes += 4 * (comm.isRoot || replicated ? intermediate - mine.count : mine.count) }
            try step(.keptA) {
                try FaultInjection.at(.keptA, rank: comm.rank, layer: layer)
                if replicated { return try keptA.threshold(aFull, count: intermediate, t: thresholdDown) }
                if comm.isRoot { try keptA.threshold(aFull, count: intermediate, t: thresholdDown) }
                try broadcastKept(keptA)
            }
            try local.down(keptA, into: part)
            let hr = hiddenPlan.counts[comm.rank]
            try step(.out) {
                try FaultInjection.at(.out, rank: comm.rank, layer: layer, payload: part, count: hr)
                try checkOutgoing(part, count: hr, what: "MLP output")
                if replicated {
                    try timed { try comm.allGatherv(part, count: hr, into: try everyRank(out, "MLP output"), counts: hiddenPlan.counts) }
                } else {
                    try timed { try comm.gatherv(part, count: hr, into: out, counts: hiddenPlan.counts, root: 0) }
                }
            }
            if comm.size > 1 { messageBytes += 4 * (comm.isRoot || replicated ? hidden - hr : hr) }
        case .reduce:
            // 3. threshold my own slice of a, down over my rows for all of out, one reduce-sum.
            try step(.a) {
                try FaultInjection.at(.a, rank: comm.rank, layer: layer, payload: g, count: mine.count)
                try keptA.threshold(g, count: mine.count, t: thresholdDown)
            }
            try local.down(keptA, into: part)
            try step(.out) {
                try FaultInjection.at(.out, rank: comm.rank, layer: layer, payload: part, count: hidden)
                try checkOutgoing(part, count: hidden, what: "partial MLP output")
                if replicated {
                    try timed { try comm.allReduceSum(part, into: try everyRank(out, "MLP output"), count: hidden) }
                } else {
                    try timed { try comm.reduceSum(part, into: out, count: hidden, root: 0) }
                }
            }
            if comm.size > 1 { messageBytes += 4 * hidden }
        }
    }

    /// A buffer the replicated protocol needs on every rank (h, out), or a clear error.
    @inline(__always) func everyRank<P>(_ p: P?, _ what: String) throws -> P {
        guard let p else { throw ActSparseError.invalidValue(what: what, expected: "a buffer on every rank", found: "nil") }
        return p
    }

    /// Runs one protocol step; any failure in it becomes a `ProtocolError` naming this layer and the step.
    @inline(__always) func step(_ s: FaultInjection.Step, _ body: () throws -> Void) throws {
        do { try body() } catch let e as ProtocolError { throw e } catch {
            throw ProtocolError(layer: layer, step: s.rawValue, problem: "\(error)")
        }
    }

    /// Throws if this rank is about to send a NaN or ∞.
    @inline(__always) func checkOutgoing(_ x: UnsafePointer<Float>, count: Int, what: String) throws {
        if let bad = Finite.firstBad(x, count: count) {
            throw ActSparseError.invalidValue(what: "\(what)[\(bad)] computed on this rank", expected: "a finite value",
                                              found: "\(x[bad])")
        }
    }

    /// Root's kept channels to every rank: the count (checked against the width before anything is received
    /// into the wire buffer), then indices and values in one message.
    func broadcastKept(_ a: SparseActivation) throws {
        guard comm.size > 1 else { return }
        try timed {
            let n = try comm.broadcast(value: Int32(a.count), root: 0)
            guard n >= 0 && Int(n) <= a.width else {
                throw ActSparseError.shape(what: "kept channel count from rank 0", expected: "0...\(a.width)",
                                           found: "\(n)")
            }
            let count = Int(n)
            let idx = wire.assumingMemoryBound(to: Int32.self)
            let val = (wire + 4 * count).assumingMemoryBound(to: Float.self)
            if comm.isRoot {
                idx.update(from: a.indices, count: count)
                val.update(from: a.values, count: count)
            }
            try comm.broadcast(wire, bytes: 8 * count, root: 0)
            messageBytes += 4 + 8 * count
            if !comm.isRoot { try a.assign(indices: idx, values: val, count: count) }
        }
    }
}

// MARK: - Prefill (M > 1, dense)

extension DistributedMLP {
    /// out[M, H] = MLP(x[M, H]) dense. `x`/`out` on rank 0 only. Allocates per call (once per prompt).
    public func prefill(_ x: UnsafePointer<Float>?, m: Int, into out: UnsafeMutablePointer<Float>?) throws {
        let mine = interPlan.slices[comm.rank]
        let xs = try xScratch.floats(m * hidden)
        if comm.isRoot || replicated {
            guard let x else { throw ActSparseError.invalidValue(what: "MLP prefill input", expected: "x", found: "nil") }
            xs.update(from: x, count: m * hidden)
        }
        if !replicated { try timed { try comm.broadcast(xs, count: m * hidden, root: 0) } }
        let gm = try aScratch.floats(m * mine.count)
        try local.prefillGateUp(xs, m: m, into: gm)
        switch mode {
        case .gather:
            // a[M, I] assembled on every rank (down is sliced by OC and needs all of a).
            let a = try allGatherRows(gm, m: m, plan: interPlan)
            defer { a.deallocate() }
            let hr = hiddenPlan.slices[comm.rank].count
            let pm = try outScratch.floats(m * hr)
            downCapture?(a, m)
            try local.down.prefill(a, m: m, into: pm)
            if replicated {
                let full = try allGatherRows(pm, m: m, plan: hiddenPlan)
                defer { full.deallocate() }
                try everyRank(out, "MLP output").update(from: full, count: m * hidden)
            } else {
                let full = try gatherRows(pm, m: m, plan: hiddenPlan)
                if let full, let out { out.update(from: full, count: m * hidden); full.deallocate() }
            }
        case .reduce:
            let pm = try outScratch.floats(m * hidden)
            downCapture?(gm, m)
            try local.down.prefill(gm, m: m, into: pm)
            if replicated {
                let out = try everyRank(out, "MLP output")
                try timed { try comm.allReduceSum(pm, into: out, count: m * hidden) }
            } else {
                try timed { try comm.reduceSum(pm, into: out, count: m * hidden, root: 0) }
            }
        }
    }

    /// Gathers each rank's [M, cols_r] block to rank 0 as one row-major [M, total] (nil on other ranks).
    func gatherRows(_ mineRows: UnsafePointer<Float>, m: Int, plan: ShardPlan) throws -> UnsafeMutablePointer<Float>? {
        let counts = plan.counts.map { $0 * m }
        let blocks = comm.isRoot ? UnsafeMutablePointer<Float>.allocate(capacity: m * plan.total) : nil
        defer { blocks?.deallocate() }
        try timed { try comm.gatherv(mineRows, count: counts[comm.rank], into: blocks, counts: counts, root: 0) }
        guard let blocks else { return nil }
        let full = UnsafeMutablePointer<Float>.allocate(capacity: m * plan.total)
        RankBlocks.interleave(blocks, rows: m, widths: plan.counts, into: full)  // the slices are contiguous, in order
        return full
    }

    /// Every rank's [M, cols_r] block on every rank as one row-major [M, total] (one all-gather).
    func allGatherRows(_ mineRows: UnsafePointer<Float>, m: Int, plan: ShardPlan) throws -> UnsafeMutablePointer<Float> {
        let counts = plan.counts.map { $0 * m }
        let blocks = UnsafeMutablePointer<Float>.allocate(capacity: m * plan.total)
        defer { blocks.deallocate() }
        try timed { try comm.allGatherv(mineRows, count: counts[comm.rank], into: blocks, counts: counts) }
        let full = UnsafeMutablePointer<Float>.allocate(capacity: m * plan.total)
        RankBlocks.interleave(blocks, rows: m, widths: plan.counts, into: full)  // the slices are contiguous, in order
        return full
    }
}

// MARK: - Calibration

extension DistributedMLP {
    /// Sets both thresholds from quantiles of |h| and |a| over calibration tokens run dense through the sharded
    /// gate/up (a is gathered to rank 0), then broadcast, so every rank and every rank count agrees.
    /// `tokens` is read on rank 0 only (each [H]).
    public func calibrate(_ tokens: [[Float]], sparsityGateUp: Double, sparsityDown: Double) throws {
        let mine = interPlan.slices[comm.rank]
        let n = Int(try comm.broadcast(value: Int32(comm.isRoot ? tokens.count : 0)))
        var hAbs = QuantileSketch(), aAbs = QuantileSketch()  // bounded memory, any number of tokens
        let h = UnsafeMutablePointer<Float>.allocate(capacity: hidden)
        defer { h.deallocate() }
        for t in 0..<n {
            if comm.isRoot {
                guard tokens[t].count == hidden else {
                    throw ActSparseError.shape(what: "calibration token \(t)", expected: "\(hidden) values",
                                               found: "\(tokens[t].count)")
                }
                h.update(from: tokens[t], count: hidden)
                hAbs.add(tokens[t])
            }
            try comm.broadcast(h, count: hidden, root: 0)
            try keptH.keepAll(h, count: hidden)
            try local.gateUp(keptH, into: g)
            try comm.gatherv(g, count: mine.count, into: aFull, counts: interPlan.counts, root: 0)
            if comm.isRoot { aAbs.add(aFull, count: intermediate) }
        }
        local.resetStats()  // calibration tokens are not decode tokens
        var t = SIMD2<Float>(hAbs.quantile(sparsityGateUp), aAbs.quantile(sparsityDown))
        t = try comm.broadcast(value: t)
        thresholdGateUp = t[0]
        thresholdDown = t[1]
    }
}

// MARK: - Synthetic weights

extension DistributedMLP {
    /// Slices of deterministic synthetic weights (`Synthetic.weights`, tags gate 1, up 2, down 3) quantized to
    /// `format`. Per-OC formats need whole-column statistics: a rank holding only some rows of down (reduce mode)
    /// streams the other rows' min/max without keeping them.
    public static func syntheticSlice(seed: UInt64, hidden: Int, intermediate: Int, format: WeightFormat)
        -> (String, Range<Int>, Range<Int>) throws -> PlainWeights
    {
        let tags: [String: UInt64] = ["gate": 1, "up": 2, "down": 3]
        return { name, rows, cols in
            let ic = name == "down" ? intermediate : hidden
            let make = { (r: Range<Int>) in Synthetic.weights(seed: seed, tag: tags[name]!, ic: ic, rows: r, cols: cols) }
            var range: ColumnRange?
            if format.scaling == .perOC && rows.count < ic {
                var r = ColumnRange(oc: cols.count)
                for start in stride(from: 0, to: ic, by: 256) {
                    r.add(make(start..<min(ic, start + 256)), rows: min(ic, start + 256) - start)
                }
                range = r
            }
            return try make(rows).withUnsafeBufferPointer {
                try PlainWeights.quantize($0.baseAddress!, ic: rows.count, oc: cols.count, format: format,
                                          columnRange: range)
            }
        }
    }
}
