/// Hyper-parameters of a Llama-architecture model, read from GGUF metadata and checked against its tensors.
public struct LlamaConfig: Sendable, Equatable {
    public var name: String
    public var hidden: Int
    public var intermediate: Int
    public var layers: Int
    public var heads: Int
    public var kvHeads: Int
    public var headDim: Int
    public var ropeBase: Float
    public var eps: Float
    public var vocab: Int
    public var context: Int

    public var qDim: Int { heads * headDim }
    public var kvDim: Int { kvHeads * headDim }

    public init(gguf g: GGUFFile) throws {
        let arch = try g.string("general.architecture")
        guard arch == "llama" else {
            throw ActSparseError.file(path: g.path, problem: "general.architecture: expected llama, found \(arch)")
        }
        name = g.metadata["general.name"]?.string ?? "llama"
        /// An integer hyper-parameter within 1...limit (a crafted header must not divide by zero or overflow).
        func count(_ key: String, _ value: Int?, limit: Int) throws -> Int {
            guard let v = value else { throw ActSparseError.file(path: g.path, problem: "missing integer \(key)") }
            guard v >= 1 && v <= limit else {
                throw ActSparseError.file(path: g.path, problem: "\(key): expected 1...\(limit), found \(v)")
            }
            return v
        }
        let md = g.metadata
        hidden = try count("llama.embedding_length", md["llama.embedding_length"]?.int, limit: 1 << 16)
        intermediate = try count("llama.feed_forward_length", md["llama.feed_forward_length"]?.int, limit: 1 << 18)
        layers = try count("llama.block_count", md["llama.block_count"]?.int, limit: 1024)
        heads = try count("llama.attention.head_count", md["llama.attention.head_count"]?.int, limit: 1024)
        kvHeads = try count("llama.attention.head_count_kv", md["llama.attention.head_count_kv"]?.int ?? heads,
                            limit: heads)
        headDim = try count("llama.rope.dimension_count", md["llama.rope.dimension_count"]?.int ?? hidden / heads,
                            limit: 1024)
        let base = md["llama.rope.freq_base"]?.float ?? 10000
        let epsilon = try g.float("llama.attention.layer_norm_rms_epsilon")
        guard base.isFinite, base > 1, epsilon.isFinite, epsilon > 0, epsilon < 1 else {
            throw ActSparseError.file(path: g.path, problem: "rope base \(base) / RMS epsilon \(epsilon): expected a " +
                                      "finite base > 1 and 0 < epsilon < 1")
        }
        ropeBase = Float(base)
        eps = Float(epsilon)
        context = try count("llama.context_length", md["llama.context_length"]?.int ?? 2048, limit: Int(Int32.max))
        let embd = try g.tensor("token_embd.weight")
        vocab = try count("llama.vocab_size", md["llama.vocab_size"]?.int ?? embd.dims.last, limit: 1 << 22)
        guard heads % kvHeads == 0, headDim % 2 == 0,
              heads * headDim == hidden || g.tensors["blk.0.attn_q.weight"] != nil else {
            throw ActSparseError.file(path: g.path, problem: "inconsistent attention metadata: \(heads) heads, " +
                                      "\(kvHeads) KV heads, head dim \(headDim), hidden \(hidden)")
        }
        _ = try g.tensor("token_embd.weight", dims: [hidden, vocab])
    }
}
