/// What differs between the transformer families ActSparse runs, as data: one forward pass (`LlamaModel`) reads
/// it. Adding a family that fits this shape = one entry in `known` (+ its tokenizer's pre-tokenizer and chat
/// turns if new).
public struct Architecture: Sendable, Equatable {
    /// How RoPE pairs the dimensions of a head: ggml's "normal" mode rotates adjacent pairs (2i, 2i + 1) — GGUF
    /// Llama q/k weights are permuted for it; NEOX mode rotates (i, i + d/2) (Qwen2, Gemma).
    public enum Rope: Sendable { case adjacent, neox }
    /// The chat turns a family's instruct models are trained on (used when the file has no template, and to
    /// recognise the file's template).
    public enum Chat: String, Sendable { case chatML = "chatml", llama3, gemma }

    /// GGUF `general.architecture`, also the prefix of its hyper-parameter keys.
    public let name: String
    /// The MLP's gated activation: down(act(gate(h)) ⊙ up(h)).
    public let activation: GatedActivation
    public let rope: Rope
    /// q/k/v projections carry biases (`attn_q.bias` …; required when true).
    public let qkvBias: Bool
    /// Per-head RMSNorm of q and k before RoPE (`attn_q_norm`, `attn_k_norm`).
    public let qkNorm: Bool
    /// RMSNorm of the attention and MLP outputs before each residual add (`post_attention_norm`, `post_ffw_norm`).
    public let postNorms: Bool
    /// The embedding is scaled by √hidden.
    public let embeddingScale: Bool
    /// Sliding-window attention on all layers but every n-th (n = this; 0 = no sliding window). The window
    /// comes from `<arch>.attention.sliding_window`, a pattern in the file overrides this default.
    public let slidingWindowPattern: Int
    /// RoPE base of the sliding-window layers (global layers use `<arch>.rope.freq_base`).
    public let localRopeBase: Float?
    public let chat: Chat
    /// The family's files carry no `output.weight`: the LM head is the embedding (a file that has one uses it).
    public let tiedOutput: Bool
    /// 1/√d of the attention scores: d is the head size, or hidden/heads for models of `hiddenOverHeadsAtLayers`
    /// layers (llama.cpp's rule for Gemma-3 27B, whose query_pre_attn_scalar is hidden/heads).
    public let hiddenOverHeadsAtLayers: Int?

    /// The d of the 1/√d attention-score scale for a model of this family.
    public func attentionScaleDim(layers: Int, hidden: Int, heads: Int, headDim: Int) -> Int {
        hiddenOverHeadsAtLayers == layers ? hidden / heads : headDim
    }

    public static let llama = Architecture(name: "llama", activation: .silu, rope: .adjacent, qkvBias: false,
                                           qkNorm: false, postNorms: false, embeddingScale: false,
                                           slidingWindowPattern: 0, localRopeBase: nil, chat: .chatML,
                                           tiedOutput: false, hiddenOverHeadsAtLayers: nil)
    public static let qwen2 = Architecture(name: "qwen2", activation: .silu, rope: .neox, qkvBias: true,
                                           qkNorm: false, postNorms: false, embeddingScale: false,
                                           slidingWindowPattern: 0, localRopeBase: nil, chat: .chatML,
                                           tiedOutput: false, hiddenOverHeadsAtLayers: nil)
    public static let gemma3 = Architecture(name: "gemma3", activation: .geluTanh, rope: .neox, qkvBias: false,
                                            qkNorm: true, postNorms: true, embeddingScale: true,
                                            slidingWindowPattern: 6, localRopeBase: 10_000, chat: .gemma,
                                            tiedOutput: true, hiddenOverHeadsAtLayers: 62)
    public static let known: [Architecture] = [.llama, .qwen2, .gemma3]

    /// The description of GGUF architecture `name`; an unknown one is refused by name.
    public init(named name: String, path: String) throws {
        guard let a = Architecture.known.first(where: { $0.name == name }) else {
            throw ActSparseError.file(path: path, problem: "general.architecture: expected one of " +
                "\(Architecture.known.map(\.name).joined(separator: ", ")), found \(name) (not supported)")
        }
        self = a
    }

    init(name: String, activation: GatedActivation, rope: Rope, qkvBias: Bool, qkNorm: Bool, postNorms: Bool,
         embeddingScale: Bool, slidingWindowPattern: Int, localRopeBase: Float?, chat: Chat, tiedOutput: Bool,
         hiddenOverHeadsAtLayers: Int?) {
        self.name = name; self.activation = activation; self.rope = rope; self.qkvBias = qkvBias
        self.qkNorm = qkNorm; self.postNorms = postNorms; self.embeddingScale = embeddingScale
        self.slidingWindowPattern = slidingWindowPattern; self.localRopeBase = localRopeBase; self.chat = chat
        self.tiedOutput = tiedOutput; self.hiddenOverHeadsAtLayers = hiddenOverHeadsAtLayers
    }
}
