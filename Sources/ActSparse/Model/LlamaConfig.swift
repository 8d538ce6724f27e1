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
        hidden = try g.int("llama.embedding_length")
        intermediate = try g.int("llama.feed_forward_length")
        layers = try g.int("llama.block_count")
        heads = try g.int("llama.attention.head_count")
        kvHeads = g.metadata["llama.attention.head_count_kv"]?.int ?? heads
        headDim = g.metadata["llama.rope.dimension_count"]?.int ?? hidden / heads
        ropeBase = Float(g.metadata["llama.rope.freq_base"]?.float ?? 10000)
        eps = Float(try g.float("llama.attention.layer_norm_rms_epsilon"))
        context = g.metadata["llama.context_length"]?.int ?? 2048
        let embd = try g.tensor("token_embd.weight")
        vocab = g.metadata["llama.vocab_size"]?.int ?? embd.dims.last!
        guard hidden > 0, layers > 0, heads > 0, kvHeads > 0, heads % kvHeads == 0, headDim % 2 == 0,
              heads * headDim == hidden || g.tensors["blk.0.attn_q.weight"] != nil else {
            throw ActSparseError.file(path: g.path, problem: "inconsistent attention metadata: \(heads) heads, " +
                                      "\(kvHeads) KV heads, head dim \(headDim), hidden \(hidden)")
        }
        _ = try g.tensor("token_embd.weight", dims: [hidden, vocab])
    }
}
