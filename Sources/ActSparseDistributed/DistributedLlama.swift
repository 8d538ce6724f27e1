import ActSparse

/// A Llama model sharded over the ranks of `comm`. Rank 0 drives: before each forward it broadcasts a step
/// header (stop / prefill M / decode / thresholds), and the other ranks, in `follow()`, run their part of it.
///
/// - `Scope.model` (whole-model tensor parallelism): every rank holds 1/N of everything — its attention heads
///   and their KV cache, its slice of the output projection, of each MLP and of the LM head (`ModelShard`) —
///   and the residual stream is replicated, so per layer the only messages are the attention block's and the
///   MLP's closing collectives (`reduce`: one all-reduce each; `gather`: all-gathers, bit-identical to one rank).
///   The step header carries the token (and a prefill its tokens); the next token is picked across ranks:
///   greedy by one max-location all-reduce, sampling from the candidates each rank gathers to rank 0, and
///   whole logits only where asked for (`decode`, `eval`).
/// - `Scope.mlp` (the original protocol): only the MLPs are sharded; attention and the LM head run on rank 0, which
///   broadcasts each MLP's kept inputs.
///
/// Setup is checked before any per-token traffic: every rank compares its file's header digest with rank 0's,
/// checks that its share fits in memory, loads, and meets the others at a ready barrier (all under the long
/// load timeout, which also covers rank 0's work before its first step); every step after that runs under
/// `stepTimeout`.
public final class DistributedLlama {
    public enum Scope: String, CaseIterable, Sendable { case model, mlp }

    /// The communicator, counting collectives and bytes (`generate` reports them per token and layer).
    public let comm: CountingCommunicator
    public let scope: Scope
    public let config: LlamaConfig
    public let gguf: GGUFFile
    /// This rank's model: its shard (`model` scope, every rank), or the whole model but the MLPs' other slices
    /// (`mlp` scope, rank 0 only).
    public let local: LlamaModel?
    /// The driving rank's model (rank 0); nil elsewhere.
    public var model: LlamaModel? { comm.isRoot ? local : nil }
    public let mlps: [DistributedMLP]
    /// Seconds a per-token collective may wait (prefill adds `prefillSecondsPerToken` per prompt token).
    public let stepTimeout: Double
    /// The context (KV cache length) every rank agreed on.
    public let context: Int

    /// Allowance per prompt token in a prefill step (in `mlp` scope rank 0 runs the whole attention between MLP
    /// collectives).
    static let prefillSecondsPerToken = 0.02

    enum Step: Int32 { case stop = 0, prefill = 1, decode = 2, thresholds = 3, report = 4 }
    /// What follows a forward in `model` scope: rank 0 gets the whole logits, or every rank the argmax, or
    /// rank 0 the sampling candidates.
    enum Pick: Int32 { case logits = 0, greedy = 1, sample = 2 }
    /// How a prefill runs (header word 7): thresholded as decode would drop channels (scoring a plan), and with
    /// every row's logits gathered to rank 0 (scoring a text) instead of the last row's pick.
    struct PrefillFlags: OptionSet {
        let rawValue: Int32
        static let thresholded = PrefillFlags(rawValue: 1), allRows = PrefillFlags(rawValue: 2)
        static let known: PrefillFlags = [.thresholded, .allRows]
    }
    /// [vocab] rank 0's whole logits, gathered from the vocabulary slices (`model` scope)
    let fullLogits: UnsafeMutablePointer<Float>
    /// Candidate wire buffer: [2 · vocab] (index, p) pairs from every rank (rank 0) or this rank's
    let candidates: UnsafeMutablePointer<Float>
    /// Scoring a text in `model` scope (rank 0): [m · vocab] every rank's rows as gathered (rank r's [m, vocab_r]
    /// block after rank r − 1's), and the same rows [m, vocab] in vocabulary order.
    let packedRows = GrowableBuffer(), allRows = GrowableBuffer()
    /// Nanoseconds of the LM head's collectives since `resetStats`.
    var headNanos: UInt64 = 0
    /// This rank's MLP decode bytes at its previous report.
    var reportedMLPBytes = 0

    /// Every rank opens the same GGUF path and keeps only its slices. Setup runs under the communicator's timeout
    /// as the caller set it (the load timeout); then `stepTimeout`.
    public init(comm base: Communicator, path: String, mode: DistributedMLP.Mode, scope: Scope = .mlp, threads: Int,
                context: Int = 2048, kv: KVCache.Precision = .f16,
                activations: ActivationPrecision = .f32,
                stepTimeout: Double = CommunicatorDefaults.timeout, progress: Progress.Handler? = nil) throws {
        let comm = base as? CountingCommunicator ?? CountingCommunicator(base)
        self.comm = comm
        self.scope = comm.size == 1 ? .mlp : scope  // one rank: the same thing, without the replicated protocol
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
        try DistributedLlama.checkSameWeights(g, comm: comm, threads: threads)
        config = try LlamaConfig(gguf: g)
        let c = config
        self.context = min(max(1, context), c.context)
        guard c.vocab < 1 << 24 else {  // candidate indices travel as floats
            throw ActSparseError.shape(what: "vocabulary", expected: "< 2^24 tokens", found: "\(c.vocab)")
        }
        let whole = self.scope == .model
        var shard: ModelShard?
        if whole {
            // Every rank plans from the same header; rank 0's verdict decides, so a refusal is one line and a
            // clean exit on every rank.
            shard = try comm.agreeOn {
                let block = try (0..<c.layers).map { try g.tensor(TensorName.Layer.o.of($0)).type.blockSize }
                    .max() ?? 32
                do {
                    return try ModelShard(c, rank: comm.rank, ranks: comm.size,
                                          output: mode == .reduce ? .rows : .columns, outputBlock: block)
                } catch where mode == .reduce {
                    // Too few whole quantization blocks of heads to cut the output projection's rows (a small
                    // model with 256-blocks): its columns instead, the rest of the reduce protocol unchanged. If
                    // that fails too, its error (the looser limit) is the one to report.
                    return try ModelShard(c, rank: comm.rank, ranks: comm.size, output: .columns, outputBlock: block)
                }
            }
        }
        let share = try DistributedLlama.checkMemory(g, c, comm: comm, shard: shard, context: self.context, kv: kv, path: path)
        let progress = Progress("loading \(c.name)", total: share, unit: .bytes, handler: comm.isRoot ? progress : nil)
        g.onRepacked = { progress.advance($0) }
        defer { g.onRepacked = nil }
        var ms: [DistributedMLP] = []
        let packing = GrowableBuffer()  // the layers run one after another: one prefill packing buffer
        for l in 0..<c.layers {
            let names = ["gate": TensorName.Layer.gate.of(l), "up": TensorName.Layer.up.of(l),
                         "down": TensorName.Layer.down.of(l)]
            // Intermediate slices cut gate/up by OC and down by IC: align them to every one's block (Q4_K_M mixes
            // Q5_0 gate/up with Q6_K down: 256).
            let align = try names.values.map { try g.tensor($0).type.blockSize }.max() ?? 32
            ms.append(try DistributedMLP(
                comm: comm, mode: mode, hidden: c.hidden, intermediate: c.intermediate,
                align: align, threads: threads, layer: l, activation: c.architecture.activation, packing: packing,
                replicated: whole
            ) { name, rows, cols in
                let dims = name == "down" ? [c.intermediate, c.hidden] : [c.hidden, c.intermediate]
                guard let tensor = names[name] else {
                    throw ActSparseError.invalidValue(what: "MLP tensor", expected: "gate, up or down", found: name)
                }
                return try g.plainWeights(try g.tensor(tensor, dims: dims), rows: rows, cols: cols)
            })
        }
        mlps = ms
        local = comm.isRoot || whole
            ? try LlamaModel(gguf: g, threads: threads, context: self.context, kvPrecision: kv, shard: shard,
                             exchange: whole ? CommunicatorExchange(comm) : nil) { ms[$0] }
            : nil
        for fc in ms.flatMap(\.linears) { fc.activations = activations }
        local?.activations = activations
        fullLogits = .allocate(capacity: comm.isRoot ? c.vocab : 1)
        candidates = .allocate(capacity: 2 * c.vocab)
        progress.finish()
        try FaultInjection.at(.load, rank: comm.rank)
        try comm.barrier()  // ready: every rank loaded its share
        // The load timeout stays until the first step header: rank 0 may first read and tokenize a long text.
    }

    /// Every rank must hold rank 0's weights, not just its header. A rank that opened the very same file (same
    /// host, device, inode, size and modification time) reads the same bytes: nothing to do. Any other copy is
    /// hashed tensor by tensor (XXH64), as is rank 0's file then, and compared; a difference ends the job on every
    /// rank naming the rank, the first tensor that differs and both hashes.
    static func checkSameWeights(_ g: GGUFFile, comm: Communicator, threads: Int) throws {
        guard comm.size > 1 else { return }
        let mine = ContentHash.xxh64(Array(g.identity.utf8))
        let rootIdentity = try comm.broadcast(value: mine)
        let copy = !comm.isRoot && mine != rootIdentity
        guard try comm.allReduceMaxLoc(value: copy ? 1 : 0, index: Int32(comm.rank)).value > 0 else { return }
        let n = g.tensorNames.count
        let hashes = comm.isRoot || copy ? g.tensorHashes(threads: threads) : [UInt64](repeating: 0, count: n)
        var rootHashes = hashes
        try rootHashes.withUnsafeMutableBufferPointer { try comm.broadcast($0.baseAddress!, count: n) }
        let differs = copy ? (0..<n).first { hashes[$0] != rootHashes[$0] } : nil
        let verdict = try comm.allReduceMaxLoc(value: differs == nil ? 0 : 1, index: Int32(comm.rank))
        guard verdict.value > 0 else { return }
        let culprit = Int(verdict.index)
        let k = Int(try comm.broadcast(value: Int32(differs ?? 0), root: culprit))
        let theirs = try comm.broadcast(value: k < n ? hashes[k] : 0, root: culprit)
        guard k >= 0 && k < n else { throw SettingsMismatch(description: "rank \(culprit) holds other weights than rank 0") }
        throw SettingsMismatch(description: "rank \(culprit)'s model file has other weights than rank 0's "
            + "(same header): tensor \(g.tensorNames[k]) hashes to \(String(theirs, radix: 16)) there, "
            + "\(String(rootHashes[k], radix: 16)) on rank 0 (every rank must load the same file)")
    }

    deinit {
        fullLogits.deallocate()
        candidates.deallocate()
    }

    /// Throws (naming this rank's needs and what is available) unless its weights and, on rank 0, the KV cache
    /// fit in memory. The estimate is the file bytes of the tensors it repacks (the plain layout stores the
    /// same codes and scales) plus the KV cache at `context`.
    /// With a `shard` (whole-model scope) every rank holds 1/N of the weights and the KV cache of its heads.
    /// Returns the file bytes this rank repacks.
    @discardableResult
    static func checkMemory(_ g: GGUFFile, _ c: LlamaConfig, comm: Communicator, shard: ModelShard?, context: Int,
                            kv: KVCache.Precision, path: String) throws
        -> Int
    {
        var mlp = 0, rest = 0
        for (name, t) in g.tensors where name != TensorName.embedding {
            if TensorName.isMLP(name) && t.dims.count == 2 { mlp += t.bytes } else { rest += t.bytes }
        }
        if g.tensors[TensorName.output] == nil, let e = g.tensors[TensorName.embedding] { rest += e.bytes }  // tied head
        if let shard {
            let share = (mlp + rest) / comm.size
            let (kvCount, o1) = (2 * c.layers * context).multipliedReportingOverflow(by: kv.rowBytes(shard.kvHeads.count * c.headDim))
            let (kvBytes, o2) = (kvCount, false)
            guard !o1, !o2 else {
                throw ActSparseError.memory(what: "the KV cache at a context of \(context) tokens", needed: Int.max,
                                            available: Memory.available())
            }
            try Memory.require(share + kvBytes, for: "\(path) on rank \(comm.rank) (1/\(comm.size) of the weights " +
                               "\(Memory.describe(share)) + KV cache of \(shard.kvHeads.count) heads " +
                               "\(Memory.describe(kvBytes)) at a context of \(context) tokens)")
            return share
        }
        var needed = mlp / max(1, comm.size)
        let repacked = needed + (comm.isRoot ? rest : 0)
        var itemised = "MLP slices \(Memory.describe(needed))"
        if comm.isRoot {
            let (kvCount, o1) = (2 * c.layers * context).multipliedReportingOverflow(by: kv.rowBytes(c.kvDim))
            let (kvBytes, o2) = (kvCount, false)
            guard !o1, !o2 else {
                throw ActSparseError.memory(what: "the KV cache at a context of \(context) tokens", needed: Int.max,
                                            available: Memory.available())
            }
            needed += rest + kvBytes
            itemised += " + attention and LM head \(Memory.describe(rest)) + KV cache \(Memory.describe(kvBytes)) " +
                "at a context of \(context) tokens"
        }
        try Memory.require(needed, for: "\(path) on rank \(comm.rank) (\(itemised))")
        return repacked
    }

    /// The step header every rank receives: step, prompt length, the position the step starts at, the token
    /// (decode), what to pick afterwards and the sampling settings (`model` scope), as Int32 words.
    struct Header {
        var words = SIMD8<Int32>()
        var step: Step? { Step(rawValue: words[0]) }
        var m: Int { Int(words[1]) }
        var position: Int { Int(words[2]) }
        var token: Int32 { words[3] }
        var pick: Pick? { Pick(rawValue: words[4]) }
        var temperature: Float { Float(bitPattern: UInt32(bitPattern: words[5])) }
        var topP: Float { Float(bitPattern: UInt32(bitPattern: words[6])) }
        /// Rank 0's sampling settings (a follower needs them to pick its candidates; the seed stays on rank 0).
        var sampler: Sampler { Sampler(temperature: temperature, topP: topP) }
        var flags: PrefillFlags { PrefillFlags(rawValue: words[7]) }
    }

    func header(_ step: Step, _ m: Int = 0, token: Int32 = 0, pick: Pick = .logits, sampler: Sampler? = nil,
                flags: PrefillFlags = []) throws {
        try FaultInjection.at(.header, rank: comm.rank)
        comm.timeout = stepTimeout  // from the first step on, per-token collectives are short
        var h = Header()
        h.words = [step.rawValue, Int32(m), Int32(local?.position ?? 0), token, pick.rawValue,
                   Int32(bitPattern: (sampler?.temperature ?? 0).bitPattern), Int32(bitPattern: (sampler?.topP ?? 1).bitPattern), flags.rawValue]
        _ = try comm.broadcast(value: h.words)
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

    /// Prefill of `tokens` (dense); returns the last position's logits [vocab]. Checked before any rank is told.
    @discardableResult
    public func prefill(_ tokens: [Int32]) throws -> UnsafeMutablePointer<Float> {
        try logits(forward(prompt: tokens, pick: .logits, sampler: nil))
    }

    /// One decode step (sparse); returns the logits [vocab]. A full context is refused before any rank is told,
    /// so the caller can end the generation cleanly (see `contextLeft`).
    @discardableResult
    public func decode(_ token: Int32) throws -> UnsafeMutablePointer<Float> {
        try logits(forward(token: token, pick: .logits, sampler: nil))
    }

    /// Prefill, then the next token from `sampler` (greedy or sampled), with as little traffic as the scope
    /// allows: in `model` scope greedy is one max-location all-reduce and sampling gathers candidates only.
    public func prefill(_ tokens: [Int32], sampler: inout Sampler) throws -> Int32 {
        try next(forward(prompt: tokens, pick: sampler.temperature > 0 ? .sample : .greedy, sampler: sampler), &sampler)
    }

    /// One decode step, then the next token from `sampler` (see `prefill(_:sampler:)`).
    public func decode(_ token: Int32, sampler: inout Sampler) throws -> Int32 {
        try next(forward(token: token, pick: sampler.temperature > 0 ? .sample : .greedy, sampler: sampler), &sampler)
    }

    /// The whole logits a `.logits` pick leaves on rank 0.
    func logits(_ r: Picked) throws -> UnsafeMutablePointer<Float> {
        guard let l = r.logits else {
            throw ProtocolError(layer: nil, step: "pick", problem: "no logits on rank 0 after a whole-logits pick")
        }
        return l
    }

    func next(_ r: Picked, _ sampler: inout Sampler) throws -> Int32 {
        if let logits = r.logits { return try sampler.sample(logits, count: config.vocab) }
        if let token = r.token { return token }
        return try sampler.pick(r.candidates, total: r.total)
    }

    func forward(prompt tokens: [Int32], pick: Pick, sampler: Sampler?) throws -> Picked {
        let model = try requireRoot()
        guard !tokens.isEmpty, tokens.count <= contextLeft else {
            throw ActSparseError.shape(what: "prefill", expected: "1...\(contextLeft) tokens (context left)",
                                       found: "\(tokens.count)")
        }
        try header(.prefill, tokens.count, pick: pick, sampler: sampler)
        return try withPrefillTimeout(tokens.count) {
            if scope == .model {
                var ids = tokens
                try comm.broadcast(&ids, count: ids.count)
            }
            let logits = try model.prefill(tokens)
            return try finish(logits, pick: pick, sampler: sampler)
        }
    }

    func forward(token: Int32, pick: Pick, sampler: Sampler?) throws -> Picked {
        let model = try requireRoot()
        guard contextLeft > 0 else {
            throw ActSparseError.shape(what: "sequence", expected: "at most \(context) tokens (the context)",
                                       found: "\(context + 1)")
        }
        try header(.decode, token: token, pick: pick, sampler: sampler)
        return try finish(try model.decode(token), pick: pick, sampler: sampler)
    }

    /// What each rank reports (`report()`), in bytes.
    public struct RankReport: Sendable {
        public var peakResident = 0.0, resident = 0.0
        /// Weight bytes the MLPs' decode GEMVs read since the previous report (sparse: only kept rows).
        public var mlpBytesRead = 0.0
        /// Bytes one dense token reads in this rank's attention projections and LM head slice.
        public var attentionWeightBytes = 0.0, headWeightBytes = 0.0
        /// KV cache bytes per cached position (this rank's heads, all layers).
        public var kvBytesPerPosition = 0.0
        static let count = 6
    }

    /// Rank 0: every rank's report [rank] (one gather; the others answer in `follow()`).
    public func report() throws -> [RankReport] {
        _ = try requireRoot()
        try header(.report)
        return try gatherReport()
    }

    /// Rank 0: every rank's peak resident set (bytes), [rank].
    public func peakResidentPerRank() throws -> [Double] { try report().map(\.peakResident) }

    func gatherReport() throws -> [RankReport] {
        let mlpBytes = mlps.map(\.bytesRead).reduce(0, +)
        defer { reportedMLPBytes = mlpBytes }
        let kv = local.map { Double($0.kvCache.bytesPerPosition * config.layers) } ?? 0
        // In MB: exact enough as floats.
        var mine: [Float] = [Memory.peakResident(), Memory.resident(), Double(mlpBytes - reportedMLPBytes),
                             Double(local?.attentionWeightBytes ?? 0), Double(local?.headWeightBytes ?? 0), kv].map { Float($0 / 1e6) }
        let n = RankReport.count
        var all = [Float](repeating: 0, count: n * comm.size)
        try comm.gatherv(&mine, count: n, into: &all, counts: Array(repeating: n, count: comm.size), root: 0)
        return (0..<comm.size).map { r in
            let v = all[(n * r)..<(n * r + n)].map { Double($0) * 1e6 }
            return RankReport(peakResident: v[0], resident: v[1], mlpBytesRead: v[2], attentionWeightBytes: v[3],
                              headWeightBytes: v[4], kvBytesPerPosition: v[5])
        }
    }

    /// Releases the other ranks from `follow()`. Only on the success path: after a failure the others may be
    /// inside any collective, so the failing rank aborts the job instead.
    public func stop() throws { try header(.stop) }

    // MARK: Other ranks

    /// Serves rank 0's steps until it says stop; `onDecode` runs after each decode step (soak sampling).
    /// `idle`: seconds to wait for rank 0's next step between steps (a server waits for requests: 0 = forever);
    /// nil keeps the step timeout (the load timeout before the first step).
    public func follow(idle: Double? = nil, onDecode: () -> Void = {}) throws {
        while true {
            try FaultInjection.at(.header, rank: comm.rank)
            if let idle { comm.timeout = idle }
            var h = Header()
            h.words = try comm.broadcast(value: h.words)
            comm.timeout = stepTimeout  // from the first step on (and between steps), per-token collectives are short
            switch h.step {
            case .stop: return
            case .prefill:
                let m = h.m
                guard m >= 1 && m <= context else {
                    throw ProtocolError(layer: nil, step: "header", problem: "prefill of \(m) tokens from rank 0, " +
                                        "expected 1...\(context)")
                }
                let flags = h.flags
                guard flags.isSubset(of: .known), flags.isEmpty || scope == .model else {
                    throw ProtocolError(layer: nil, step: "header", problem: "prefill flags \(flags.rawValue) from rank 0 "
                                        + "in \(scope.rawValue) scope")
                }
                try withPrefillTimeout(m) {
                    guard scope == .model, let local else {
                        for mlp in mlps { try mlp.prefill(nil, m: m, into: nil) }
                        return
                    }
                    try follow(h, local, count: m)
                    var ids = [Int32](repeating: 0, count: m)
                    try comm.broadcast(&ids, count: m)
                    try thresholdingPrefill(flags.contains(.thresholded)) {
                        if flags.contains(.allRows) {
                            _ = try gatherRows(try local.prefill(ids, allLogits: true), m: m)
                        } else {
                            _ = try finish(try local.prefill(ids), pick: h.pick, sampler: h.sampler)
                        }
                    }
                }
            case .decode:
                if scope == .model, let local {
                    try follow(h, local, count: 1)
                    _ = try finish(try local.decode(h.token), pick: h.pick, sampler: h.sampler)
                } else {
                    for mlp in mlps { try mlp.decode(nil, into: nil) }
                }
                onDecode()
            case .thresholds: try receiveThresholds(nil)
            case .report: _ = try gatherReport()
            case nil: throw ProtocolError(layer: nil, step: "header", problem: "unknown step \(h.words[0]) from rank 0")
            }
        }
    }

    /// Checks a `model`-scope step against this rank's state: the position rank 0 starts at (0 starts a new
    /// sequence) and room for `count` tokens.
    func follow(_ h: Header, _ local: LlamaModel, count: Int) throws {
        if h.position == 0 { local.reset() }
        guard h.position == local.position, h.position + count <= context, h.pick != nil else {
            throw ProtocolError(layer: nil, step: "header", problem: "step at position \(h.position) for \(count) " +
                                "token(s), pick \(h.words[4]) from rank 0; this rank is at \(local.position) of \(context)")
        }
    }

    // MARK: Thresholds and statistics

    /// Rank 0: sets every layer's MLP thresholds on every rank from its table (nil or targets 0: dense), and no
    /// attention sparsity.
    public func setThresholds(_ table: ThresholdTable?, gateUp sGU: Double, down sD: Double) throws {
        let plan = SparsityPlan.uniform(layers: config.layers, gateUp: sGU, down: sD)
        try setPlan(table == nil ? .dense(layers: config.layers) : plan, table: table)
    }

    /// Rank 0: sets every site's thresholds from a plan on every rank (one broadcast; in `mlp` scope the
    /// attention sites matter on rank 0 only). A dense plan needs no table.
    public func setPlan(_ plan: SparsityPlan, table: ThresholdTable?, path: String = "thresholds") throws {
        _ = try requireRoot()
        let n = config.layers
        var t = [[Float]](repeating: [0, 0, 0, 0], count: n)
        if !plan.isDense {
            guard let table else {
                throw ActSparseError.invalidValue(what: "sparsity plan", expected: "a thresholds table", found: "none")
            }
            t = try table.thresholds(plan, path: path)
        }
        try header(.thresholds)
        try receiveThresholds(t)
    }

    /// Every rank: rank 0's [layer][site] thresholds, checked, into this rank's attention and MLPs.
    func receiveThresholds(_ values: [[Float]]?) throws {
        let n = config.layers, k = SparsitySite.allCases.count
        var t = [Float](repeating: 0, count: k * n)
        if let values { for l in 0..<n { for j in 0..<k { t[k * l + j] = values[l][j] } } }
        try comm.broadcast(&t, count: k * n, root: 0)
        guard t.allSatisfy({ $0.isFinite && $0 >= 0 }) else {
            throw ProtocolError(layer: nil, step: "thresholds", problem: "expected finite thresholds ≥ 0 from rank 0")
        }
        func site(_ s: SparsitySite) -> [Float] { (0..<n).map { t[k * $0 + s.rawValue] } }
        try local?.setAttentionThresholds(attention: site(.attention), output: site(.output))
        for l in 0..<n {
            mlps[l].thresholdGateUp = t[k * l + SparsitySite.gateUp.rawValue]
            mlps[l].thresholdDown = t[k * l + SparsitySite.down.rawValue]
        }
    }

    public func resetStats() {
        for m in mlps { m.resetStats() }
        local?.resetStats(); comm.reset(); headNanos = 0; reportedMLPBytes = 0
    }

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

    /// Nanoseconds this rank spent in collectives since `resetStats` (every block's and the LM head's).
    public var commNanos: UInt64 { comm.nanos }

    /// Collectives and their payload bytes since `resetStats` (this rank's count; the same on every rank in
    /// `model` scope).
    public var traffic: (collectives: Int, bytes: Int) { (comm.collectives, comm.bytes) }
}
