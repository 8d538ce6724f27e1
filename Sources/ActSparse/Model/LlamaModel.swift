import CActSparse

/// The forward pass of the Llama-shaped families (embedding → [RMSNorm → GQA attention with RoPE and a KV cache →
/// RMSNorm → gated MLP] × L → RMSNorm → LM head) on the rank that owns the model. What differs between Llama,
/// Qwen2 and Gemma-3 (biases, q/k norms, post-norms, RoPE pairing, sliding windows, embedding scale, the MLP's
/// activation) is read from `config.architecture`, not forked. The MLPs are `FeedForward` blocks supplied by the
/// caller (sharded over MPI ranks or local); every other linear layer is a `SparseFC` here, whose input is
/// thresholded per layer in decode when `attentionThresholds` / `outputThresholds` are set (the LM head stays dense).
///
/// Under whole-model tensor parallelism each rank builds one of these with its `ModelShard` (its heads, KV cache,
/// output-projection and vocabulary slices) and an `exchange`; the residual stream is the same on every rank.
public final class LlamaModel {
    public let config: LlamaConfig
    public let gguf: GGUFFile
    public let tokenizer: Tokenizer
    public let mlps: [FeedForward]
    let embedding: GGUFFile.TensorInfo
    /// What this rank holds (everything on one rank).
    public let shard: ModelShard
    /// The collectives after the output projection (nil: one rank).
    let exchange: ModelExchange?
    /// This rank's query and KV widths (heads × headDim): qDim and kvDim on one rank.
    let lq: Int, lkv: Int

    struct Layer {
        /// [H] RMSNorm weights before attention and before the MLP
        let attnNorm: [Float], ffnNorm: [Float]
        /// [H, lq], [H, lkv], [H, lkv] (this rank's heads); o: [lq, H] (`rows`) or [qDim, H_r] (`columns`)
        let q: SparseFC, k: SparseFC, v: SparseFC, o: SparseFC
        /// [lq], [lkv], [lkv] projection biases (Qwen2), this rank's heads
        let qBias: [Float]?, kBias: [Float]?, vBias: [Float]?
        /// [headDim] per-head RMSNorm weights of q and k (Gemma-3)
        let qNorm: [Float]?, kNorm: [Float]?
        /// [H] RMSNorm weights of the attention and MLP outputs (Gemma-3)
        let postAttnNorm: [Float]?, postFFNNorm: [Float]?
        /// Sliding-window layer (local RoPE base, attends to the last `config.window` positions)
        let local: Bool
    }
    let layers: [Layer]
    /// [H]
    let outputNorm: [Float]
    /// [H, vocab_r] (the tied embedding, repacked once): this rank's vocabulary slice
    let lmHead: SparseFC

    // MARK: Run state, allocated once
    /// [layers, context, lkv] keys and values of this rank's KV heads
    public let kvCache: KVCache
    /// [H] residual stream, normed copy, branch output
    let x: UnsafeMutablePointer<Float>, xn: UnsafeMutablePointer<Float>, branch: UnsafeMutablePointer<Float>
    /// [lq] query; [qDim] attention output (this rank's heads first; `columns` gathers all heads into it)
    let q: UnsafeMutablePointer<Float>, attn: UnsafeMutablePointer<Float>
    /// [lkv] key, value
    let kv: UnsafeMutablePointer<Float>, vv: UnsafeMutablePointer<Float>
    /// [workers, heads per KV head, context] attention scores of the query heads sharing one KV head, per worker
    let scores: UnsafeMutablePointer<Float>
    /// Attention work: (local KV head, first local query head, query heads ≤ 8) units, and each worker's units.
    /// Few KV heads (Gemma-3 270M has one) are split by query heads so that every thread has work.
    let attentionUnits: [(kv: Int, q0: Int, count: Int)], attentionParts: [Range<Int>]
    public let threads: Int
    /// [vocab_r] this rank's logits (all of them on one rank)
    public let logits: UnsafeMutablePointer<Float>
    /// kept channels of the attention input [H] (also the LM head's, all kept) and of the output projection's
    /// input ([lq] in `rows` mode, [qDim] in `columns` mode)
    let keptH: SparseActivation, keptQ: SparseActivation
    /// Prefill buffers, each grown to the longest prompt so far.
    struct PrefillScratch {
        /// [M, H] residual stream, its normed copy, a block's output
        let x = GrowableBuffer(), xn = GrowableBuffer(), branch = GrowableBuffer()
        /// [M, lq] queries and attention outputs; [M, lkv] keys and values
        let q = GrowableBuffer(), attn = GrowableBuffer(), k = GrowableBuffer(), v = GrowableBuffer()
        /// [M, vocab_r] every row's logits (scoring a text)
        let logits = GrowableBuffer()
        /// `columns` mode: rank-major gathered blocks ([M, qDim] or [M, H]), the same as rows [M, qDim], and this
        /// rank's output-projection slice [M, H_r]
        let gathered = GrowableBuffer(), gatheredRows = GrowableBuffer(), oSlice = GrowableBuffer()
    }
    let prefillScratch = PrefillScratch()
    /// [H_r] the output projection's slice (`columns` mode)
    let oPart: UnsafeMutablePointer<Float>
    /// Nanoseconds in the attention block's collectives since `resetStats`.
    public internal(set) var exchangeNanos: UInt64 = 0
    /// Prefill drops the channels under the attention thresholds too (zeroes them before q/k/v and o): the same
    /// arithmetic as sparse decode, batched. Calibration scores held-out text this way; off for serving.
    public var thresholdPrefill = false
    /// [context, headDim / 2] RoPE cos and sin of the global layers and of the sliding-window layers
    let ropeCos: [Float], ropeSin: [Float], localCos: [Float], localSin: [Float]
    /// Tokens in the KV cache.
    public private(set) var position = 0
    /// What the decode kernels multiply codes with, in every FC (attention, MLPs, LM head); see
    /// `ActivationPrecision`. Prefill follows it too (the int8 GEMM; prompts of ≤ 8 tokens run as GEMVs).
    public var activations: ActivationPrecision = .f32 {
        didSet { for fc in linears { fc.activations = activations } }
    }
    /// The instruction set of the int8 kernels and attention (`KernelISA.active` unless a test or benchmark picks
    /// another).
    public var isa: KernelISA = .active {
        didSet { for fc in linears { fc.isa = isa } }
    }
    /// What the decode kernels run, for run summaries: e.g. "int8 activations on 225 of 226 FCs (AVX2
    /// (vpmaddubsw)), f32 on 1 (8-bit or float weights); KV cache f16".
    public var kernelSummary: String {
        let all = linears, int8 = all.filter(\.decodesInt8).count, isa = all.first?.isa ?? .active
        let f32 = all.count - int8
        let head = int8 == 0 ? "f32 activations on every FC (Swift SIMD)"
            : "int8 activations on \(int8) of \(all.count) FCs (\(isa))"
                + (f32 > 0 ? ", f32 on \(f32) (8-bit or float weights, or --activations f32)" : "")
        return head + "; KV cache \(kvCache.precision.rawValue)"
    }

    /// Every FC of the model on this rank.
    public var linears: [SparseFC] {
        layers.flatMap { [$0.q, $0.k, $0.v, $0.o] } + mlps.flatMap(\.linears) + [lmHead]
    }
    /// Decode time split (ns): attention block (norm, projections, attention), MLP block, LM head; `cache` is the
    /// attention block's part over the KV cache (storing k and v, scores, softmax, the weighted sum of values).
    public var decodeNanos: (attention: UInt64, cache: UInt64, mlp: UInt64, head: UInt64) = (0, 0, 0, 0)
    /// [layer] thresholds on |x| of the attention input (q, k, v) and of the output projection's input; 0 keeps all.
    public var attentionThresholds: [Float], outputThresholds: [Float]
    /// Channels kept at the attention input and at the output projection's input since `resetStats`, and tokens.
    public internal(set) var keptAttention = 0, keptOutput = 0, statTokens = 0
    /// Called in prefill with (layer, site, x [M, width], M) for the attention input and the attention output:
    /// calibration reads them here.
    public var capture: ((Int, SparsitySite, UnsafePointer<Float>, Int) -> Void)?
    /// What `capture` sees at the output projection's input: its row width, and whether every rank sees the same
    /// rows (`columns` split: the heads are gathered first) or this rank's heads only.
    public var outputCaptureShape: (width: Int, replicated: Bool) {
        shard.output == .columns && !shard.isWhole ? (config.qDim, true) : (lq, shard.isWhole)
    }

    /// `makeMLP(layer)` builds layer l's MLP (it may shard it over ranks). `context` caps the KV cache.
    /// `shard` (nil: everything) says which heads and slices this rank loads; `exchange` joins the ranks.
    public init(gguf g: GGUFFile, threads: Int, context: Int = 2048, kvPrecision: KVCache.Precision = .f16,
                shard: ModelShard? = nil, exchange: ModelExchange? = nil,
                makeMLP: (Int) throws -> FeedForward) throws {
        var c = try LlamaConfig(gguf: g)
        c.context = min(context, c.context)
        config = c
        gguf = g
        let sh = shard ?? .whole(c)
        guard sh.isWhole || exchange != nil else {
            throw ActSparseError.invalidValue(what: "sharded model", expected: "an exchange between ranks", found: "none")
        }
        self.shard = sh
        self.exchange = exchange
        let d = c.headDim
        lq = sh.heads.count * d
        lkv = sh.kvHeads.count * d
        let qCols = (sh.heads.lowerBound * d)..<(sh.heads.upperBound * d)
        let kvCols = (sh.kvHeads.lowerBound * d)..<(sh.kvHeads.upperBound * d)
        tokenizer = try Tokenizer(gguf: g)
        embedding = try g.tensor(TensorName.embedding, dims: [c.hidden, c.vocab])
        var ls: [Layer] = []
        var ms: [FeedForward] = []
        let packing = GrowableBuffer()
        let arch = c.architecture
        /// This rank's W[rows, cols] of an [ic, oc] FC (all of it by default).
        func fc(_ name: String, _ ic: Int, _ oc: Int, rows: Range<Int>? = nil, cols: Range<Int>? = nil) throws -> SparseFC {
            let t = try g.tensor(name, dims: [ic, oc])
            let w = try g.plainWeights(t, rows: rows == 0..<ic ? nil : rows, cols: cols == 0..<oc ? nil : cols)
            return try SparseFC(weights: w, threads: threads, packing: packing)
        }
        /// A 1-D tensor: required, optional (nil if absent), or absent; `slice` keeps part of it.
        func vector(_ name: String, _ n: Int, required: Bool, slice: Range<Int>? = nil) throws -> [Float]? {
            guard required || g.tensors[name] != nil else { return nil }
            let v = try g.floats(name, count: n)
            return slice.map { Array(v[$0]) } ?? v
        }
        let oRows = sh.output == .rows ? qCols : 0..<c.qDim, oCols = sh.output == .rows ? 0..<c.hidden : sh.hidden
        for l in 0..<c.layers {
            func name(_ t: TensorName.Layer) -> String { t.of(l) }
            _ = try g.tensor(name(.gate), dims: [c.hidden, c.intermediate])
            _ = try g.tensor(name(.up), dims: [c.hidden, c.intermediate])
            _ = try g.tensor(name(.down), dims: [c.intermediate, c.hidden])
            ls.append(Layer(attnNorm: try g.floats(name(.attnNorm), count: c.hidden),
                            ffnNorm: try g.floats(name(.ffnNorm), count: c.hidden),
                            q: try fc(name(.q), c.hidden, c.qDim, cols: qCols),
                            k: try fc(name(.k), c.hidden, c.kvDim, cols: kvCols),
                            v: try fc(name(.v), c.hidden, c.kvDim, cols: kvCols),
                            o: try fc(name(.o), c.qDim, c.hidden, rows: oRows, cols: oCols),
                            qBias: try vector(name(.qBias), c.qDim, required: arch.qkvBias, slice: qCols),
                            kBias: try vector(name(.kBias), c.kvDim, required: arch.qkvBias, slice: kvCols),
                            vBias: try vector(name(.vBias), c.kvDim, required: arch.qkvBias, slice: kvCols),
                            qNorm: try vector(name(.qNorm), c.headDim, required: arch.qkNorm),
                            kNorm: try vector(name(.kNorm), c.headDim, required: arch.qkNorm),
                            postAttnNorm: try vector(name(.postAttnNorm), c.hidden, required: arch.postNorms),
                            postFFNNorm: try vector(name(.postFFNNorm), c.hidden, required: arch.postNorms),
                            local: c.isLocal(l)))
            ms.append(try makeMLP(l))
        }
        layers = ls
        mlps = ms
        outputNorm = try g.floats(TensorName.outputNorm, count: c.hidden)
        // Tied embeddings unless the file has its own head; either way [H, vocab] (the LM head writes vocab floats).
        let head = g.tensors[TensorName.output] != nil ? try g.tensor(TensorName.output, dims: [c.hidden, c.vocab]) : embedding
        lmHead = try SparseFC(weights: try g.plainWeights(head, cols: sh.isWhole ? nil : sh.vocab), threads: threads,
                              packing: packing)

        let ctx = c.context
        guard kvPrecision != .q8_0 || c.headDim % 32 == 0 else {
            throw ActSparseError.invalidValue(what: "a q8_0 KV cache for \(g.path)", expected: "a head dim that is a multiple of 32",
                                              found: "\(c.headDim)")
        }
        kvCache = try KVCache(layers: c.layers, context: ctx, heads: lkv / c.headDim, headDim: c.headDim,
                              precision: kvPrecision)
        x = .allocate(capacity: c.hidden); xn = .allocate(capacity: c.hidden); branch = .allocate(capacity: c.hidden)
        q = .allocate(capacity: max(1, lq)); attn = .allocate(capacity: c.qDim)
        kv = .allocate(capacity: max(1, lkv)); vv = .allocate(capacity: max(1, lkv))
        self.threads = max(1, threads)
        var units: [(kv: Int, q0: Int, count: Int)] = []
        let group = c.heads / c.kvHeads
        for (j, kvh) in sh.kvHeads.enumerated() {
            let h0 = max(sh.heads.lowerBound, kvh * group), h1 = min(sh.heads.upperBound, (kvh + 1) * group)
            // pieces of this KV head's query heads: enough to give every thread work, at most 8 per kernel call
            let pieces = max((h1 - h0 + 7) / 8, min(h1 - h0, (self.threads + sh.kvHeads.count - 1) / sh.kvHeads.count))
            for r in Parallel.split(h1 - h0, parts: pieces, align: 1) {
                units.append((j, h0 + r.lowerBound - sh.heads.lowerBound, r.count))
            }
        }
        attentionUnits = units
        attentionParts = Parallel.split(units.count, parts: min(self.threads, units.count), align: 1)
        scores = .allocate(capacity: attentionParts.count * ctx * group)
        logits = .allocate(capacity: sh.vocab.count)
        oPart = .allocate(capacity: c.hidden)
        keptH = SparseActivation(width: c.hidden)
        keptQ = SparseActivation(width: sh.output == .rows ? lq : c.qDim)
        attentionThresholds = Array(repeating: 0, count: c.layers)
        outputThresholds = Array(repeating: 0, count: c.layers)
        // Llama-3's long-context RoPE arrives as per-frequency divisors (rope_freqs.weight [headDim / 2]).
        let factors = try vector(TensorName.ropeFrequencies, c.headDim / 2, required: false)
        if let factors, factors.contains(where: { !($0 >= 1e-3 && $0 <= 1e6) }) {
            throw ActSparseError.file(path: g.path, problem: "\(TensorName.ropeFrequencies): expected factors in 0.001...1e6")
        }
        (ropeCos, ropeSin) = LlamaModel.ropeTable(c, base: c.ropeBase, scale: c.ropeScale, factors: factors)
        if let local = arch.localRopeBase, c.window > 0 {
            (localCos, localSin) = LlamaModel.ropeTable(c, base: local, scale: 1, factors: nil)
        } else {
            (localCos, localSin) = ([], [])
        }
    }

    /// cos and sin of pos·scale·base^(−2i/d) / factor[i] for every position and frequency i < d/2.
    static func ropeTable(_ c: LlamaConfig, base: Float, scale: Float, factors: [Float]?) -> ([Float], [Float]) {
        let half = c.headDim / 2
        var cs = [Float](repeating: 0, count: c.context * half), sn = cs
        for p in 0..<c.context {
            for i in 0..<half {
                let theta = Double(p) * Double(scale) * pow(Double(base), -2 * Double(i) / Double(c.headDim)) /
                    Double(factors?[i] ?? 1)
                cs[p * half + i] = Float(cos(theta))
                sn[p * half + i] = Float(sin(theta))
            }
        }
        return (cs, sn)
    }

    deinit {
        for p in [x, xn, branch, q, attn, kv, vv, scores, logits, oPart] { p.deallocate() }
    }

    /// Bytes of weights one dense decode token reads in the attention projections (q, k, v, o of every layer)
    /// and in the LM head: the denominators of their effective GB/s.
    public var attentionWeightBytes: Int { layers.reduce(0) { $0 + $1.q.weights.bytes + $1.k.weights.bytes + $1.v.weights.bytes + $1.o.weights.bytes } }
    public var headWeightBytes: Int { lmHead.weights.bytes }

    /// Forgets the KV cache (a new sequence).
    public func reset() { position = 0 }

    /// Threshold 0 keeps every channel through the dense path (bit-identical to a model without thresholds).
    @inline(__always) func keep(_ a: SparseActivation, _ v: UnsafePointer<Float>, count: Int, t: Float) throws {
        if t > 0 { try a.threshold(v, count: count, t: t) } else { try a.keepAll(v, count: count) }
    }

    /// Sets layer l's attention-input and output-projection-input thresholds (all layers: `count` entries each).
    public func setAttentionThresholds(attention: [Float], output: [Float]) throws {
        guard attention.count == config.layers, output.count == config.layers,
              (attention + output).allSatisfy({ $0.isFinite && $0 >= 0 }) else {
            throw ActSparseError.invalidValue(what: "attention thresholds",
                                              expected: "\(config.layers) finite values ≥ 0 per site",
                                              found: "\(attention.count) and \(output.count)")
        }
        attentionThresholds = attention
        outputThresholds = output
    }

    public func resetStats() { keptAttention = 0; keptOutput = 0; statTokens = 0; exchangeNanos = 0 }

    /// Realized sparsity of the attention input and of the output projection's input since `resetStats`.
    public var realizedAttentionSparsity: (attention: Double, output: Double) {
        let t = Double(max(1, statTokens * config.layers))
        return (1 - Double(keptAttention) / (t * Double(config.hidden)), 1 - Double(keptOutput) / (t * Double(keptQ.width)))
    }

    /// The FCs an attention site feeds in layer l (q, k, v or o); empty for the MLP's sites.
    public func fcs(layer l: Int, site: SparsitySite) -> [SparseFC] {
        switch site {
        case .attention: [layers[l].q, layers[l].k, layers[l].v]
        case .output: [layers[l].o]
        case .gateUp, .down: []
        }
    }

    // MARK: - Decode (one token)

    /// Runs token `token` at the next position; returns the logits [vocab] (a shard: its slice [vocab_r]).
    @discardableResult
    public func decode(_ token: Int32) throws -> UnsafeMutablePointer<Float> {
        let c = config
        guard position < c.context else {
            throw ActSparseError.shape(what: "sequence", expected: "at most \(c.context) tokens", found: "\(position + 1)")
        }
        guard token >= 0 && Int(token) < c.vocab else {
            throw ActSparseError.invalidValue(what: "token id", expected: "0..<\(c.vocab)", found: "\(token)")
        }
        embed(Int(token), into: x)
        var t0 = Timing.now()
        for (l, layer) in layers.enumerated() {
            rmsNorm(x, layer.attnNorm, into: xn)
            try keep(keptH, xn, count: c.hidden, t: attentionThresholds[l])
            keptAttention &+= keptH.count
            try layer.q.decode(keptH, into: q)
            try layer.k.decode(keptH, into: kv)
            try layer.v.decode(keptH, into: vv)
            prepareQKV(layer, q: q, k: kv, v: vv, pos: position)
            let c0 = Timing.now()
            kvCache.store(layer: l, pos: position, k: kv, v: vv)
            attend(layer: l, pos: position, q: q, into: attn)
            decodeNanos.cache &+= Timing.now() - c0
            try outputProjection(layer, l, m: 1, decode: true, attention: attn, into: branch)
            residual(branch, layer.postAttnNorm, into: x)
            rmsNorm(x, layer.ffnNorm, into: xn)
            let t1 = Timing.now()
            try mlps[l].decode(xn, into: branch)
            residual(branch, layer.postFFNNorm, into: x)
            let t2 = Timing.now()
            decodeNanos.attention &+= t1 - t0
            decodeNanos.mlp &+= t2 - t1
            t0 = t2
        }
        position += 1
        statTokens += 1
        defer { decodeNanos.head &+= Timing.now() - t0 }
        return try head(x)
    }

    @inline(__always) func exchanged(_ body: () throws -> Void) rethrows {
        let t0 = Timing.now()
        try body()
        exchangeNanos &+= Timing.now() - t0
    }

    /// logits = LM head(RMSNorm(h)).
    func head(_ h: UnsafePointer<Float>) throws -> UnsafeMutablePointer<Float> {
        rmsNorm(h, outputNorm, into: xn)
        try keptH.keepAll(xn, count: config.hidden)
        try lmHead.decode(keptH, into: logits)
        return logits
    }

    // MARK: - Prefill (M tokens, dense)

    /// Runs `tokens` at the next positions as one batch; returns the logits of the last one.
    @discardableResult
    public func prefill(_ tokens: [Int32]) throws -> UnsafeMutablePointer<Float> {
        try prefill(tokens, allLogits: false)
    }

    /// `allLogits`: returns every row's logits [M, vocab] (scoring a text) instead of the last row's [vocab].
    /// A shard returns its vocabulary slice: [M, vocab_r] / [vocab_r] (DistributedLlama gathers what it needs).
    public func prefill(_ tokens: [Int32], allLogits: Bool) throws -> UnsafeMutablePointer<Float> {
        let c = config, m = tokens.count
        guard m > 0 else { throw ActSparseError.shape(what: "prefill tokens", expected: "≥ 1", found: "0") }
        guard position + m <= c.context else {
            throw ActSparseError.shape(what: "sequence", expected: "at most \(c.context) tokens", found: "\(position + m)")
        }
        // [M, H] residual, normed, branch; [M, lq] queries, attention; [M, lkv] keys, values.
        let X = try prefillScratch.x.floats(m * c.hidden), XN = try prefillScratch.xn.floats(m * c.hidden)
        let B = try prefillScratch.branch.floats(m * c.hidden)
        let Q = try prefillScratch.q.floats(m * max(1, lq)), A = try prefillScratch.attn.floats(m * max(1, lq))
        let K = try prefillScratch.k.floats(m * max(1, lkv)), V = try prefillScratch.v.floats(m * max(1, lkv))
        for (r, t) in tokens.enumerated() {
            guard t >= 0 && Int(t) < c.vocab else {
                throw ActSparseError.invalidValue(what: "token id", expected: "0..<\(c.vocab)", found: "\(t)")
            }
            embed(Int(t), into: X + r * c.hidden)
        }
        for (l, layer) in layers.enumerated() {
            for r in 0..<m { rmsNorm(X + r * c.hidden, layer.attnNorm, into: XN + r * c.hidden) }
            capture?(l, .attention, XN, m)
            if thresholdPrefill { SparseActivation.zeroDropped(XN, count: m * c.hidden, t: attentionThresholds[l]) }
            try layer.q.prefill(XN, m: m, into: Q)
            try layer.k.prefill(XN, m: m, into: K)
            try layer.v.prefill(XN, m: m, into: V)
            for r in 0..<m {
                let pos = position + r
                prepareQKV(layer, q: Q + r * lq, k: K + r * lkv, v: V + r * lkv, pos: pos)
                kvCache.store(layer: l, pos: pos, k: K + r * lkv, v: V + r * lkv)
            }
            for r in 0..<m { attend(layer: l, pos: position + r, q: Q + r * lq, into: A + r * lq) }
            try outputProjection(layer, l, m: m, decode: false, attention: A, into: B)
            for r in 0..<m { residual(B + r * c.hidden, layer.postAttnNorm, into: X + r * c.hidden) }
            for r in 0..<m { rmsNorm(X + r * c.hidden, layer.ffnNorm, into: XN + r * c.hidden) }
            try mlps[l].prefill(XN, m: m, into: B)
            for r in 0..<m { residual(B + r * c.hidden, layer.postFFNNorm, into: X + r * c.hidden) }
        }
        position += m
        guard allLogits else { return try head(X + (m - 1) * c.hidden) }
        // [M, vocab] all rows' logits
        let (n, overflow) = m.multipliedReportingOverflow(by: c.vocab)
        guard !overflow else { throw ActSparseError.shape(what: "logits", expected: "fewer rows", found: "\(m)") }
        let L = try prefillScratch.logits.floats(n)
        for r in 0..<m { rmsNorm(X + r * c.hidden, outputNorm, into: XN + r * c.hidden) }
        try lmHead.prefill(XN, m: m, into: L)
        return L
    }

    // MARK: - Building blocks

    /// The embedding row of `token` (scaled by √hidden where the family does).
    func embed(_ token: Int, into out: UnsafeMutablePointer<Float>) {
        gguf.dequantizeRow(embedding, token, into: out)
        if config.architecture.embeddingScale {
            let s = Float(config.hidden).squareRoot()
            for i in 0..<config.hidden { out[i] *= s }
        }
    }

    /// x += branch, the branch first RMS-normed where the family norms it (Gemma-3's post-norms).
    func residual(_ branch: UnsafeMutablePointer<Float>, _ postNorm: [Float]?, into x: UnsafeMutablePointer<Float>) {
        if let postNorm { rmsNorm(branch, postNorm, into: branch) }
        for i in 0..<config.hidden { x[i] += branch[i] }
    }

    /// Biases, per-head q/k norms and RoPE on one token's q [lq], k and v [lkv] (this rank's heads) at `pos`.
    func prepareQKV(_ layer: Layer, q: UnsafeMutablePointer<Float>, k: UnsafeMutablePointer<Float>,
                    v: UnsafeMutablePointer<Float>, pos: Int) {
        let d = config.headDim, nq = shard.heads.count, nkv = shard.kvHeads.count
        if let b = layer.qBias { for i in 0..<lq { q[i] += b[i] } }
        if let b = layer.kBias { for i in 0..<lkv { k[i] += b[i] } }
        if let b = layer.vBias { for i in 0..<lkv { v[i] += b[i] } }
        if let w = layer.qNorm { for h in 0..<nq { rmsNorm(q + h * d, w, into: q + h * d, count: d) } }
        if let w = layer.kNorm { for h in 0..<nkv { rmsNorm(k + h * d, w, into: k + h * d, count: d) } }
        rope(q, heads: nq, pos: pos, local: layer.local)
        rope(k, heads: nkv, pos: pos, local: layer.local)
    }

    /// out = v / rms(v) ⊙ w over `count` values (default: hidden). `out` may alias `v`.
    func rmsNorm(_ v: UnsafePointer<Float>, _ w: [Float], into out: UnsafeMutablePointer<Float>, count: Int? = nil) {
        let n = count ?? config.hidden
        var ss: Float = 0
        for i in 0..<n { ss += v[i] * v[i] }
        let scale = 1 / (ss / Float(n) + config.eps).squareRoot()
        for i in 0..<n { out[i] = v[i] * scale * w[i] }
    }

    /// RoPE: adjacent pairs (ggml's normal mode, Llama) or pairs (i, i + d/2) (NEOX mode, Qwen2 and Gemma).
    func rope(_ v: UnsafeMutablePointer<Float>, heads: Int, pos: Int, local: Bool) {
        let d = config.headDim, half = d / 2
        let useLocal = local && !localCos.isEmpty  // a family with windows but no local base uses the global one
        let cs = useLocal ? localCos : ropeCos, sn = useLocal ? localSin : ropeSin
        let neox = config.architecture.rope == .neox
        for h in 0..<heads {
            let base = v + h * d
            for i in 0..<half {
                let c = cs[pos * half + i], s = sn[pos * half + i]
                let (ia, ib) = neox ? (i, i + half) : (2 * i, 2 * i + 1)
                let a = base[ia], b = base[ib]
                base[ia] = a * c - b * s
                base[ib] = a * s + b * c
            }
        }
    }

    /// Causal grouped-query attention of one query row at `pos` over the cached keys 0...pos, over this rank's
    /// heads (q and out [lq]): `actsparse_attend_isa` per unit of (KV head, ≤ 8 of its query heads), so each cached
    /// key and value is read once per unit; the units are split over the threads.
    func attend(layer l: Int, pos: Int, q: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>) {
        let c = config, d = c.headDim
        // Sliding-window layers see the last `window` positions (llama.cpp masks pos − t ≥ window).
        let first = layers[l].local ? max(0, pos - c.window + 1) : 0
        let n = pos + 1 - first
        let cache = kvCache, kind = cache.precision.kernelKind
        let perWorker = (c.heads / c.kvHeads) * c.context
        let units = attentionUnits, parts = attentionParts, scores = scores, scale = c.attentionScale, stride = cache.positionStride
        let isa = isa.rawValue
        Parallel.run(parts.count) { w in
            for u in parts[w] {
                let (j, q0, g) = units[u]
                let k = cache.rows(layer: l, head: j, from: first), v = cache.rows(layer: l, head: j, from: first, values: true)
                let qh: UnsafePointer<Float> = q + q0 * d, oh: UnsafeMutablePointer<Float> = out + q0 * d
                let sc: UnsafeMutablePointer<Float> = scores + w * perWorker
                actsparse_attend_isa(isa, qh, Int32(g), Int32(d), k, v, stride, kind, Int32(n), scale, sc, oh)
            }
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
