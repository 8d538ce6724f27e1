/// GGUF tensor names (llama.cpp's, shared by every family here): the one place the engine spells them.
public enum TensorName {
    /// A tensor of every layer, `blk.L.<suffix>`.
    public enum Layer: String, CaseIterable, Sendable {
        case attnNorm = "attn_norm.weight", ffnNorm = "ffn_norm.weight"
        case q = "attn_q.weight", k = "attn_k.weight", v = "attn_v.weight", o = "attn_output.weight"
        case qBias = "attn_q.bias", kBias = "attn_k.bias", vBias = "attn_v.bias"
        case qNorm = "attn_q_norm.weight", kNorm = "attn_k_norm.weight"
        case postAttnNorm = "post_attention_norm.weight", postFFNNorm = "post_ffw_norm.weight"
        case gate = "ffn_gate.weight", up = "ffn_up.weight", down = "ffn_down.weight"

        /// The name in layer `l`.
        public func of(_ l: Int) -> String { "blk.\(l).\(rawValue)" }
        /// The MLP's linear weights (what `--shard mlp` slices and the memory estimate counts as MLP).
        public static let mlp: [Layer] = [.gate, .up, .down]
        /// The linear weight's role in llama.cpp's type mixes ("attn_v", "ffn_down", …).
        public var role: String { String(rawValue.prefix { $0 != "." }) }
    }

    public static let embedding = "token_embd.weight"
    /// The LM head; absent when the family ties it to the embedding.
    public static let output = "output.weight"
    public static let outputNorm = "output_norm.weight"
    /// Llama-3.1's per-frequency RoPE factors.
    public static let ropeFrequencies = "rope_freqs.weight"

    /// Whether `name` is one of a layer's MLP weights.
    public static func isMLP(_ name: String) -> Bool { Layer.mlp.contains { name.hasSuffix("." + $0.rawValue) } }
}
