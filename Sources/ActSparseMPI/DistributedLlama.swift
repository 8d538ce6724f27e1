import ActSparse

/// A Llama model whose MLPs are sharded over the ranks of `comm`; everything else runs on rank 0.
/// Rank 0 drives: before each forward it broadcasts a step header (stop / prefill M / decode), and the other
/// ranks, in `follow()`, run their MLP slices for every layer in the same order.
///
/// Setup is checked before any per-token traffic: every rank compares its file's header digest with rank 0's,
/// checks that its share fits in memory, loads, and meets the others at a ready barrier (all under the long
/// load timeout, which also covers rank 0's work before its first step); every step after that runs under
/// `stepTimeout`.
public final class DistributedLlama {
    public let comm: Communicator
    public let config: LlamaConfig
    public let gguf: GGUFFile
    /// The whole model on rank 0; nil elsewhere.
    public let model: LlamaModel?
    public let mlps: [DistributedMLP]
    /// Seconds a per-token collective may wait (prefill adds `prefillSecondsPerToken` per prompt token).
    public let stepTimeout: Double
    /// The context (KV cache length) every rank agreed on.
    public let context: Int

    /// Allowance per prompt token in a prefill step (rank 0 runs the whole attention between MLP collectives).
    static let prefillSecondsPerToken = 0.02

    enum Step: Int32 { case stop = 0, prefill = 1, decode = 2, thresholds = 3 }

    /// Every rank opens the same GGUF path and keeps only its MLP slices (rank 0 also the rest of the model).
    /// Setup runs under the communicator's timeout as the caller set it (the load timeout); then `stepTimeout`.
    public init(comm: Communicator, path: String, mode: DistributedMLP.Mode, threads: Int,
                context: Int = 2048, kv: KVCache.Precision = .f32,
                stepTimeout: Double = CommunicatorDefaults.timeout) throws {
        self.comm = comm
        self.stepTimeout = stepTimeout
        let g = try GGUFFile(path: path)
        gguf = g
        // The same model on every rank: rank 0's header digest to all, each compares its own.
        let digest = g.digest
        let rootDigest = try comm.broadcast(value: digest)
        guard rootDigest == digest else {
            throw ActSparseError.file(path: path, problem: "this rank opened another model than rank 0 (header digest " +
                "0x\(String(digest, radix: 16)) vs rank 0's 0x\(String(rootDigest, radix: 16))): every rank must load the same file")
        }
        config = try LlamaConfig(gguf: g)
        let c = config
        self.context = min(max(1, context), c.context)
        let share = try DistributedLlama.checkMemory(g, c, comm: comm, context: self.context, kv: kv, path: path)
        let progress = Progress("loading \(c.name)", total: share, unit: .bytes, enabled: comm.isRoot)
        g.onRepacked = { progress.advance($0) }
        defer { g.onRepacked = nil }
        var ms: [DistributedMLP] = []
        let packing = GrowableBuffer()  // the layers run one after another: one prefill packing buffer
        for l in 0..<c.layers {
            let names = ["gate": "blk.\(l).ffn_gate.weight", "up": "blk.\(l).ffn_up.weight",
                         "down": "blk.\(l).ffn_down.weight"]
            // Intermediate slices cut gate/up by OC and down by IC: align them to every one's block (Q4_K_M mixes
            // Q5_0 gate/up with Q6_K down: 256).
            let align = try names.values.map { try g.tensor($0).type.blockSize }.max() ?? 32
            ms.append(try DistributedMLP(
                comm: comm, mode: mode, hidden: c.hidden, intermediate: c.intermediate,
                align: align, threads: threads, layer: l, activation: c.architecture.activation, packing: packing
            ) { name, rows, cols in
                let dims = name == "down" ? [c.intermediate, c.hidden] : [c.hidden, c.intermediate]
                guard let tensor = names[name] else {
                    throw ActSparseError.invalidValue(what: "MLP tensor", expected: "gate, up or down", found: name)
                }
                return try g.plainWeights(try g.tensor(tensor, dims: dims), rows: rows, cols: cols)
            })
        }
        mlps = ms
        model = comm.isRoot ? try LlamaModel(gguf: g, threads: threads, context: self.context, kvPrecision: kv) { ms[$0] } : nil
        progress.finish()
        try FaultInjection.at(.load, rank: comm.rank)
        try comm.barrier()  // ready: every rank loaded its share
        // The load timeout stays until the first step header: rank 0 may first read and tokenize a long text.
    }

    /// Throws (naming this rank's needs and what is available) unless its weights and, on rank 0, the KV cache
    /// fit in memory. The estimate is the file bytes of the tensors it repacks (the plain layout stores the
    /// same codes and scales) plus the KV cache at `context`.
    /// Returns the file bytes this rank repacks.
    @discardableResult
    static func checkMemory(_ g: GGUFFile, _ c: LlamaConfig, comm: Communicator, context: Int, kv: KVCache.Precision,
                            path: String) throws
        -> Int
    {
        var mlp = 0, rest = 0
        for (name, t) in g.tensors where name != "token_embd.weight" {
            if name.contains(".ffn_") && t.dims.count == 2 { mlp += t.bytes } else { rest += t.bytes }
        }
        if g.tensors["output.weight"] == nil, let e = g.tensors["token_embd.weight"] { rest += e.bytes }  // tied head
        var needed = mlp / max(1, comm.size)
        let repacked = needed + (comm.isRoot ? rest : 0)
        var itemised = "MLP slices \(Memory.describe(needed))"
        if comm.isRoot {
            let (kvCount, o1) = (2 * c.layers * c.kvDim).multipliedReportingOverflow(by: context)
            let (kvBytes, o2) = kvCount.multipliedReportingOverflow(by: kv.bytes)
            guard !o1, !o2 else {
                throw ActSparseError.memory(what: "the KV cache at --context \(context)", needed: Int.max,
                                            available: Memory.available())
            }
            needed += rest + kvBytes
            itemised += " + attention and LM head \(Memory.describe(rest)) + KV cache \(Memory.describe(kvBytes)) " +
                "at --context \(context)"
        }
        try Memory.require(needed, for: "\(path) on rank \(comm.rank) (\(itemised))")
        return repacked
    }

    func header(_ step: Step, _ m: Int = 0) throws {
        try FaultInjection.at(.header, rank: comm.rank)
        comm.timeout = stepTimeout  // from the first step on, per-token collectives are short
        var h: SIMD2<Int32> = [step.rawValue, Int32(m)]
        h = try comm.broadcast(value: h)
    }

    /// Runs `body` with the collective timeout raised for a prefill of `m` tokens.
    func withPrefillTimeout<T>(_ m: Int, _ body: () throws -> T) rethrows -> T {
        comm.timeout = stepTimeout + Double(m) * DistributedLlama.prefillSecondsPerToken
        defer { comm.timeout = stepTimeout }
        return try body()
    }

    // MARK: Rank 0

    /// Tokens left before the KV cache is full (rank 0).
    public var contextLeft: Int { context - (model?.position ?? context) }

    func requireRoot() throws -> LlamaModel {
        guard let model else {
            throw ActSparseError.invalidValue(what: "driving call on rank \(comm.rank)", expected: "rank 0",
                                              found: "a following rank")
        }
        return model
    }

    /// Prefill of `tokens` (dense); returns the last position's logits. Checked before any rank is told.
    @discardableResult
    public func prefill(_ tokens: [Int32]) throws -> UnsafeMutablePointer<Float> {
        let model = try requireRoot()
        guard !tokens.isEmpty, tokens.count <= contextLeft else {
            throw ActSparseError.shape(what: "prefill", expected: "1...\(contextLeft) tokens (context left)",
                                       found: "\(tokens.count)")
        }
        try header(.prefill, tokens.count)
        return try withPrefillTimeout(tokens.count) { try model.prefill(tokens) }
    }

    /// One decode step (sparse MLPs); returns the logits. A full context is refused before any rank is told, so
    /// the caller can end the generation cleanly (see `contextLeft`).
    @discardableResult
    public func decode(_ token: Int32) throws -> UnsafeMutablePointer<Float> {
        let model = try requireRoot()
        guard contextLeft > 0 else {
            throw ActSparseError.shape(what: "sequence", expected: "at most \(context) tokens (--context)",
                                       found: "\(context + 1)")
        }
        try header(.decode)
        return try model.decode(token)
    }

    /// Releases the other ranks from `follow()`. Only on the success path: after a failure the others may be
    /// inside any collective, so the failing rank aborts the job instead.
    public func stop() throws { try header(.stop) }

    // MARK: Other ranks

    /// Serves rank 0's steps until it says stop; `onDecode` runs after each decode step (soak sampling).
    public func follow(onDecode: () -> Void = {}) throws {
        while true {
            try FaultInjection.at(.header, rank: comm.rank)
            var h: SIMD2<Int32> = [0, 0]
            h = try comm.broadcast(value: h)
            comm.timeout = stepTimeout  // from the first step on (and between steps), per-token collectives are short
            switch Step(rawValue: h[0]) {
            case .stop: return
            case .prefill:
                let m = Int(h[1])
                guard m >= 1 && m <= context else {
                    throw ProtocolError(layer: nil, step: "header", problem: "prefill of \(m) tokens from rank 0, " +
                                        "expected 1...\(context)")
                }
                try withPrefillTimeout(m) { for mlp in mlps { try mlp.prefill(nil, m: m, into: nil) } }
            case .decode:
                for mlp in mlps { try mlp.decode(nil, into: nil) }
                onDecode()
            case .thresholds: try receiveThresholds(nil)
            case nil: throw ProtocolError(layer: nil, step: "header", problem: "unknown step \(h[0]) from rank 0")
            }
        }
    }

    // MARK: Thresholds and statistics

    /// Rank 0: sets every layer's MLP thresholds on every rank from its table (nil or targets 0: dense), and no
    /// attention sparsity.
    public func setThresholds(_ table: ThresholdTable?, gateUp sGU: Double, down sD: Double) throws {
        let plan = SparsityPlan.uniform(layers: config.layers, gateUp: sGU, down: sD)
        try setPlan(table == nil ? .dense(layers: config.layers) : plan, table: table)
    }

    /// Rank 0: sets every site's thresholds from a plan: the MLP ones on every rank (one broadcast), the
    /// attention ones on rank 0 (it runs attention). A dense plan needs no table.
    public func setPlan(_ plan: SparsityPlan, table: ThresholdTable?, path: String = "thresholds") throws {
        let model = try requireRoot()
        let n = config.layers
        var t = [[Float]](repeating: [0, 0, 0, 0], count: n)
        if !plan.isDense {
            guard let table else {
                throw ActSparseError.invalidValue(what: "sparsity plan", expected: "a thresholds table", found: "none")
            }
            t = try table.thresholds(plan, path: path)
        }
        try model.setAttentionThresholds(attention: t.map { $0[SparsitySite.attention.rawValue] },
                                         output: t.map { $0[SparsitySite.output.rawValue] })
        try header(.thresholds)
        try receiveThresholds(t.map { ($0[SparsitySite.gateUp.rawValue], $0[SparsitySite.down.rawValue]) })
    }

    func receiveThresholds(_ values: [(Float, Float)]?) throws {
        let n = config.layers
        var t = [Float](repeating: 0, count: 2 * n)
        if let values { for l in 0..<n { (t[2 * l], t[2 * l + 1]) = values[l] } }
        try comm.broadcast(&t, count: 2 * n, root: 0)
        guard t.allSatisfy({ $0.isFinite && $0 >= 0 }) else {
            throw ProtocolError(layer: nil, step: "thresholds", problem: "expected finite thresholds ≥ 0 from rank 0")
        }
        for l in 0..<n { mlps[l].thresholdGateUp = t[2 * l]; mlps[l].thresholdDown = t[2 * l + 1] }
    }

    public func resetStats() { for m in mlps { m.resetStats() }; model?.resetStats() }

    /// Realized sparsity averaged over layers (this rank's view; rank 0's for gate/up).
    public var realizedSparsity: (gateUp: Double, down: Double) {
        let s = mlps.map(\.realizedSparsity)
        return (s.map(\.gateUp).reduce(0, +) / Double(s.count), s.map(\.down).reduce(0, +) / Double(s.count))
    }

    /// Realized sparsity of every site [site], averaged over layers (rank 0).
    public var realizedSiteSparsity: [Double] {
        let (a, o) = model?.realizedAttentionSparsity ?? (0, 0)
        let (g, d) = realizedSparsity
        return [a, o, g, d]
    }

    /// Nanoseconds this rank spent in MLP collectives since `resetStats`.
    public var commNanos: UInt64 { mlps.map(\.commNanos).reduce(0, +) }
}
