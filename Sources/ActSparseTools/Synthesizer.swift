import ActSparse

/// Full-size models with random weights (`actsparse synth`): a valid GGUF of a family's shape and a GGUF type
/// mix, so decode speed, memory, loading and scaling can be measured at 7B scale without downloading one.
/// Weights are random blocks with scales chosen so that every linear layer keeps the scale of its input
/// (std 1/√IC), norms near 1: activations stay finite and stationary through dozens of layers.
public struct Synthesizer {
    public struct Shape: Sendable {
        public var hidden, intermediate, layers, heads, kvHeads, vocab: Int
        public var ropeBase: Float
        public var context = 4096
    }

    public enum Preset: String, CaseIterable, Sendable {
        case tiny, llama2_7b = "llama2-7b", llama3_8b = "llama3-8b", qwen25_7b = "qwen2.5-7b"
        public var shape: Shape {
            switch self {
            case .tiny: return Shape(hidden: 256, intermediate: 512, layers: 2, heads: 4, kvHeads: 2, vocab: 512, ropeBase: 10_000)
            case .llama2_7b: return Shape(hidden: 4096, intermediate: 11008, layers: 32, heads: 32, kvHeads: 32, vocab: 32000, ropeBase: 10_000)
            case .llama3_8b: return Shape(hidden: 4096, intermediate: 14336, layers: 32, heads: 32, kvHeads: 8, vocab: 128_256, ropeBase: 500_000)
            case .qwen25_7b: return Shape(hidden: 3584, intermediate: 18944, layers: 28, heads: 28, kvHeads: 4, vocab: 152_064, ropeBase: 1_000_000)
            }
        }
    }

    /// GGUF type mixes as llama.cpp's quantizer lays them out.
    public enum Mix: String, CaseIterable, Sendable {
        case q4_k_m, q5_k_m, q8_0, q4_1, f16

        /// The type of a linear weight: `role` is attn_q/k/v/output, ffn_gate/up/down, output or token_embd;
        /// rows of `ic` elements that are not a multiple of 256 fall back as llama.cpp does (Q4_K → Q5_0,
        /// Q5_K → Q5_1, Q6_K → Q8_0).
        public func type(role: String, layer: Int, layers: Int, ic: Int) -> GGMLType {
            let base: GGMLType
            switch self {
            case .q8_0: return .q8_0
            case .q4_1: return ic % 32 == 0 ? .q4_1 : .f16
            case .f16: return .f16
            case .q4_k_m, .q5_k_m:
                // llama.cpp's use_more_bits: the first and last eighth of the layers and every third between.
                let more = layer < layers / 8 || layer >= 7 * layers / 8 || (layer - layers / 8) % 3 == 2
                let k: GGMLType = self == .q4_k_m ? .q4_K : .q5_K
                switch role {
                case "output": base = .q6_K
                case "attn_v", "ffn_down": base = more ? .q6_K : k
                default: base = k
                }
            }
            guard ic % 256 != 0 else { return base }
            switch base {
            case .q4_K: return .q5_0
            case .q5_K: return .q5_1
            default: return .q8_0
            }
        }
    }

    public let architecture: Architecture
    public let shape: Shape
    public let mix: Mix
    /// A GGUF whose tokenizer is copied (its vocabulary size replaces the preset's); nil: a byte-level one.
    public let tokenizer: GGUFFile?
    public let seed: UInt64

    public init(architecture: Architecture, shape: Shape, mix: Mix, tokenizer: GGUFFile?, seed: UInt64 = 1) throws {
        self.architecture = architecture
        var s = shape
        if let tokenizer {
            guard let n = tokenizer.metadata["tokenizer.ggml.tokens"]?.array?.count, n > 0 else {
                throw ActSparseError.file(path: tokenizer.path, problem: "no tokenizer.ggml.tokens to copy")
            }
            s.vocab = n
        }
        self.shape = s
        self.mix = mix
        self.tokenizer = tokenizer
        self.seed = seed
    }

    var headDim: Int { shape.hidden / shape.heads }

    /// Metadata and tensor list of the file.
    public func layout() -> GGUFWriter {
        let a = architecture.name, s = shape
        var w = GGUFWriter()
        w.metadata = [
            ("general.architecture", .string(a)), ("general.name", .string("synthetic \(a) \(s.hidden)x\(s.layers) \(mix.rawValue)")),
            ("general.file_type", .u32(1)), ("general.quantization_version", .u32(2)),
            ("\(a).block_count", .u32(UInt32(s.layers))), ("\(a).context_length", .u32(UInt32(s.context))),
            ("\(a).embedding_length", .u32(UInt32(s.hidden))), ("\(a).feed_forward_length", .u32(UInt32(s.intermediate))),
            ("\(a).attention.head_count", .u32(UInt32(s.heads))), ("\(a).attention.head_count_kv", .u32(UInt32(s.kvHeads))),
            ("\(a).rope.freq_base", .f32(s.ropeBase)), ("\(a).attention.layer_norm_rms_epsilon", .f32(1e-6)),
            ("\(a).attention.key_length", .u32(UInt32(headDim))), ("\(a).attention.value_length", .u32(UInt32(headDim))),
            ("\(a).vocab_size", .u32(UInt32(s.vocab))),
        ]
        if architecture.slidingWindowPattern > 0 { w.metadata.append(("\(a).attention.sliding_window", .u32(512))) }
        w.metadata += tokenizerMetadata()
        let H = s.hidden, I = s.intermediate, q = s.heads * headDim, kv = s.kvHeads * headDim
        func lin(_ name: String, _ role: String, _ l: Int, _ ic: Int, _ oc: Int) -> GGUFWriter.Tensor {
            .init(name, [ic, oc], mix.type(role: role, layer: l, layers: s.layers, ic: ic))
        }
        w.tensors.append(lin(TensorName.embedding, "token_embd", 0, H, s.vocab))
        for l in 0..<s.layers {
            func f32(_ t: TensorName.Layer, _ n: Int) -> GGUFWriter.Tensor { .init(t.of(l), [n], .f32) }
            func linear(_ t: TensorName.Layer, _ ic: Int, _ oc: Int) -> GGUFWriter.Tensor { lin(t.of(l), t.role, l, ic, oc) }
            w.tensors += [
                f32(.attnNorm, H), f32(.ffnNorm, H),
                linear(.q, H, q), linear(.k, H, kv), linear(.v, H, kv), linear(.o, q, H),
                linear(.gate, H, I), linear(.up, H, I), linear(.down, I, H),
            ]
            if architecture.qkvBias { w.tensors += [f32(.qBias, q), f32(.kBias, kv), f32(.vBias, kv)] }
            if architecture.qkNorm { w.tensors += [f32(.qNorm, headDim), f32(.kNorm, headDim)] }
            if architecture.postNorms { w.tensors += [f32(.postAttnNorm, H), f32(.postFFNNorm, H)] }
        }
        w.tensors.append(.init(TensorName.outputNorm, [H], .f32))
        if !architecture.tiedOutput { w.tensors.append(lin(TensorName.output, "output", 0, H, s.vocab)) }
        return w
    }

    /// The tokenizer's keys: copied from `tokenizer`, or a byte-level BPE vocabulary (GPT-2 byte map, no merges)
    /// padded with unused tokens to the preset's size.
    func tokenizerMetadata() -> [(String, GGUFWriter.Value)] {
        if let t = tokenizer {
            return t.metadata.keys.sorted().filter { $0.hasPrefix("tokenizer.") }.compactMap { k in
                GGUFWriter.value(t.metadata[k]!).map { (k, $0) }
            }
        }
        var toks = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"], types: [Int32] = [3, 3, 3]
        var n = 0
        for b in 0..<256 {
            let printable = (33...126).contains(b) || (161...172).contains(b) || (174...255).contains(b)
            toks.append(String(Character(Unicode.Scalar(printable ? b : 256 + n)!)))
            types.append(1)
            if !printable { n += 1 }
        }
        while toks.count < shape.vocab { toks.append("<unused\(toks.count)>"); types.append(5) }
        return [("tokenizer.ggml.model", .string("gpt2")), ("tokenizer.ggml.pre", .string("gpt-2")),
                ("tokenizer.ggml.tokens", .strings(Array(toks.prefix(shape.vocab)))),
                ("tokenizer.ggml.token_type", .i32s(Array(types.prefix(shape.vocab)))),
                ("tokenizer.ggml.merges", .strings([])), ("tokenizer.ggml.eos_token_id", .u32(0)),
                ("tokenizer.ggml.add_bos_token", .bool(false)),
                ("tokenizer.chat_template", .string("{% for m in messages %}<|im_start|>{{m.role}}\n{{m.content}}<|im_end|>\n{% endfor %}"))]
    }

    /// Writes the model to `path` (`layout`: this synthesizer's, possibly with edited metadata); `progress(bytes)`
    /// after each tensor.
    public func write(to path: String, layout edited: GGUFWriter? = nil, progress: (Int) -> Void = { _ in }) throws {
        let w = edited ?? layout()
        try w.write(to: path) { k, data in
            let t = w.tensors[k]
            let tensorSeed = seed &+ UInt64(k) &* 0x9E37_79B9_7F4A_7C15
            var rng = SplitMix(seed: tensorSeed)
            if t.dims.count == 1 {
                // Norm weights near 1 (Gemma's q/k norms too), biases small.
                let isBias = t.name.hasSuffix(".bias")
                for i in 0..<t.dims[0] {
                    data.storeBytes(of: isBias ? 0.02 * rng.gaussian() : 1 + 0.05 * rng.gaussian(), toByteOffset: 4 * i, as: Float.self)
                }
            } else {
                // std 1/√IC keeps each projection's output at its input's scale; the embedding at 1/√H (Gemma
                // scales it by √H).
                let std = 1 / Float(t.dims[0]).squareRoot()
                let blocks = t.dims.reduce(1, *) / t.type.blockSize
                let per = t.type.blockBytes
                let chunk = 1 << 14
                Parallel.run((blocks + chunk - 1) / chunk) { c in
                    var r = SplitMix(seed: tensorSeed ^ (UInt64(c) &* 0xD1B5_4A32_D192_ED03))
                    let n = min(chunk, blocks - c * chunk)
                    t.type.randomBlocks(count: n, std: std, rng: &r, into: data + c * chunk * per)
                }
            }
            progress(t.bytes)
        }
    }
}
