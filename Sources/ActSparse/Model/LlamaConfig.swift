/// Hyper-parameters of a Llama-shaped transformer (the families in `Architecture`), read from GGUF metadata
/// (`<arch>.*` keys) and checked against its tensors.
public struct LlamaConfig: Sendable, Equatable {
    public var name: String
    public var architecture: Architecture
    public var hidden: Int
    public var intermediate: Int
    public var layers: Int
    public var heads: Int
    public var kvHeads: Int
    public var headDim: Int
    public var ropeBase: Float
    /// Linear RoPE scaling: positions are multiplied by this (1 / `rope.scaling.factor`; 1 without scaling).
    public var ropeScale: Float
    public var eps: Float
    public var vocab: Int
    public var context: Int
    /// Sliding-window size of the local layers (0: every layer attends to the whole context).
    public var window: Int
    /// Multiplier of q·k (1/√headDim unless the family says otherwise).
    public var attentionScale: Float

    public var qDim: Int { heads * headDim }
    public var kvDim: Int { kvHeads * headDim }

    /// Whether layer l attends through the sliding window (and uses the local RoPE base).
    public func isLocal(_ l: Int) -> Bool {
        let n = architecture.slidingWindowPattern
        return window > 0 && n > 0 && (l + 1) % n != 0
    }

    public init(gguf g: GGUFFile) throws {
        let archName = try g.string("general.architecture")
        architecture = try Architecture(named: archName, path: g.path)
        let a = archName
        name = g.metadata["general.name"]?.string ?? a
        /// An integer hyper-parameter within 1...limit (a crafted header must not divide by zero or overflow).
        func count(_ key: String, _ value: Int?, limit: Int) throws -> Int {
            guard let v = value else { throw ActSparseError.file(path: g.path, problem: "missing integer \(key)") }
            guard v >= 1 && v <= limit else {
                throw ActSparseError.file(path: g.path, problem: "\(key): expected 1...\(limit), found \(v)")
            }
            return v
        }
        let md = g.metadata
        func int(_ k: String) -> Int? { md["\(a).\(k)"]?.int }
        hidden = try count("\(a).embedding_length", int("embedding_length"), limit: 1 << 16)
        intermediate = try count("\(a).feed_forward_length", int("feed_forward_length"), limit: 1 << 18)
        layers = try count("\(a).block_count", int("block_count"), limit: 1024)
        heads = try count("\(a).attention.head_count", int("attention.head_count"), limit: 1024)
        kvHeads = try count("\(a).attention.head_count_kv", int("attention.head_count_kv") ?? heads, limit: heads)
        headDim = try count("\(a).attention.key_length",
                            int("attention.key_length") ?? int("rope.dimension_count") ?? hidden / heads, limit: 1024)
        if let v = int("attention.value_length"), v != headDim {
            throw ActSparseError.file(path: g.path, problem: "\(a).attention.value_length \(v) differs from the key " +
                                      "length \(headDim) (not supported)")
        }
        if let r = int("rope.dimension_count"), r != headDim {
            throw ActSparseError.file(path: g.path, problem: "\(a).rope.dimension_count \(r): partial RoPE over " +
                                      "\(r) of \(headDim) dimensions is not supported")
        }
        let base = md["\(a).rope.freq_base"]?.float ?? 10000
        let epsilon = try g.float("\(a).attention.layer_norm_rms_epsilon")
        guard base.isFinite, base > 1, epsilon.isFinite, epsilon > 0, epsilon < 1 else {
            throw ActSparseError.file(path: g.path, problem: "rope base \(base) / RMS epsilon \(epsilon): expected a " +
                                      "finite base > 1 and 0 < epsilon < 1")
        }
        ropeBase = Float(base)
        eps = Float(epsilon)
        ropeScale = 1
        if let type = md["\(a).rope.scaling.type"]?.string, type != "none" {
            // llama3-style scaling arrives as per-frequency factors (rope_freqs.weight), read by the model; the
            // metadata says "llama3" or nothing. Linear scaling is a factor on positions.
            let factor = md["\(a).rope.scaling.factor"]?.float ?? 1
            switch type {
            case "linear":
                guard factor.isFinite, factor >= 1, factor <= 1024 else {
                    throw ActSparseError.file(path: g.path, problem: "\(a).rope.scaling.factor: expected 1...1024, found \(factor)")
                }
                ropeScale = Float(1 / factor)
            case "llama3": break
            default:
                throw ActSparseError.file(path: g.path, problem: "\(a).rope.scaling.type: expected linear or llama3, " +
                                          "found \(type) (not supported)")
            }
        }
        context = try count("\(a).context_length", int("context_length") ?? 2048, limit: Int(Int32.max))
        let embd = try g.tensor(TensorName.embedding)
        vocab = try count("\(a).vocab_size", int("vocab_size") ?? embd.dims.last, limit: 1 << 22)
        guard heads % kvHeads == 0, headDim % 2 == 0 else {
            throw ActSparseError.file(path: g.path, problem: "inconsistent attention metadata: \(heads) heads, " +
                                      "\(kvHeads) KV heads, head dim \(headDim), hidden \(hidden)")
        }
        window = 0
        if architecture.slidingWindowPattern > 0, let w = int("attention.sliding_window") {
            window = try count("\(a).attention.sliding_window", w, limit: Int(Int32.max))
        }
        let scaleDim = architecture.attentionScaleDim(layers: layers, hidden: hidden, heads: heads, headDim: headDim)
        attentionScale = 1 / Float(scaleDim).squareRoot()
        _ = try g.tensor(TensorName.embedding, dims: [hidden, vocab])
        // Every row of the embedding (every logit) must be a token the tokenizer can print, and every token a row.
        if let tokens = md["tokenizer.ggml.tokens"]?.array, tokens.count != vocab {
            throw ActSparseError.file(path: g.path, problem: "tokenizer.ggml.tokens has \(tokens.count) tokens, but "
                + "\(TensorName.embedding) has \(vocab) rows (\(a).vocab_size and the embedding must match the vocabulary)")
        }
    }
}
