import ActSparse
import Foundation

/// Writes small GGUF v3 files for tests: a tiny Llama (Q4_1 linears, Q8_0 embedding, F32 norms) with a
/// byte-level vocabulary, plus hooks to break it in chosen ways.
public struct TinyGGUF {
    public init() {}
    public var hidden = 64, intermediate = 128, layers = 2, heads = 4, kvHeads = 2, vocabExtra = ["Ġt", "he", "Ġthe"]
    public var seed: UInt64 = 42
    public var linearType: GGMLType = .q4_1

    public var headDim: Int { hidden / heads }

    public enum KV {
        case u32(UInt32), u64(UInt64), f32(Float), str(String), strs([String]), i32s([Int32]), bool(Bool)
        /// A value written as is: its GGUF type id, then its bytes.
        case raw(UInt32, [UInt8])
    }

    /// The GPT-2 byte → printable character map (as the tokenizer uses).
    public static let byteChars: [String] = {
        var out = [String](repeating: "", count: 256)
        var n = 0
        for b in 0..<256 {
            let printable = (33...126).contains(b) || (161...172).contains(b) || (174...255).contains(b)
            out[b] = String(Character(Unicode.Scalar(printable ? b : 256 + n)!))
            if !printable { n += 1 }
        }
        return out
    }()

    public var tokens: [String] { ["<|endoftext|>", "<|im_start|>", "<|im_end|>"] + TinyGGUF.byteChars + vocabExtra }
    public var vocab: Int { tokens.count }

    /// Random f32 weights for tensor `name` with ggml dims [ne0, ne1] (ne0 contiguous).
    public func values(_ name: String, _ count: Int, scale: Float) -> [Float] {
        var rng = SplitMix(seed: name.utf8.reduce(seed) { $0 &* 31 &+ UInt64($1) })
        return (0..<count).map { _ in rng.gaussian() * scale }
    }

    /// ggml blocks of `type` for rows of `ne0` floats.
    public static func encode(_ v: [Float], type: GGMLType) -> [UInt8] {
        var out: [UInt8] = []
        func f16(_ x: Float) -> [UInt8] { withUnsafeBytes(of: Float16(x).bitPattern.littleEndian, Array.init) }
        switch type {
        case .f32: for x in v { out += withUnsafeBytes(of: x.bitPattern.littleEndian, Array.init) }
        case .f16: for x in v { out += f16(x) }
        case .bf16: for x in v { out += withUnsafeBytes(of: UInt16(x.bitPattern >> 16).littleEndian, Array.init) }
        case .q8_0, .q4_0, .q4_1:
            for b in stride(from: 0, to: v.count, by: 32) {
                let blk = Array(v[b..<(b + 32)])
                let lo = blk.min()!, hi = blk.max()!, amax = blk.map(abs).max()!
                if type == .q8_0 {
                    let d = Float(Float16(amax / 127))
                    out += f16(d)
                    for x in blk { out.append(UInt8(bitPattern: Int8(d > 0 ? (x / d).rounded() : 0))) }
                } else {
                    let d: Float, m: Float
                    if type == .q4_1 { d = Float(Float16((hi - lo) / 15)); m = Float(Float16(lo)) } else {
                        d = Float(Float16(amax / 7)); m = -8 * d
                    }
                    out += f16(d)
                    if type == .q4_1 { out += f16(m) }
                    let q = blk.map { x -> UInt8 in UInt8(max(0, min(15, d > 0 ? ((x - m) / d).rounded() : 0))) }
                    for j in 0..<16 { out.append(q[j] | (q[j + 16] << 4)) }
                }
            }
        default:
            return type.encode(v)
        }
        return out
    }

    /// The file's bytes; `mutate` may change metadata and tensors before writing.
    public func bytes(mutateKV: (inout [(String, KV)]) -> Void = { _ in },
               mutateTensors: (inout [(String, [Int], GGMLType, [UInt8])]) -> Void = { _ in }) -> [UInt8] {
        var kv: [(String, KV)] = [
            ("general.architecture", .str("llama")), ("general.name", .str("tiny-test")),
            ("llama.block_count", .u32(UInt32(layers))), ("llama.context_length", .u32(256)),
            ("llama.embedding_length", .u32(UInt32(hidden))), ("llama.feed_forward_length", .u32(UInt32(intermediate))),
            ("llama.attention.head_count", .u32(UInt32(heads))), ("llama.attention.head_count_kv", .u32(UInt32(kvHeads))),
            ("llama.rope.freq_base", .f32(10000)), ("llama.attention.layer_norm_rms_epsilon", .f32(1e-5)),
            ("llama.rope.dimension_count", .u32(UInt32(headDim))), ("llama.vocab_size", .u32(UInt32(vocab))),
            ("tokenizer.ggml.model", .str("gpt2")), ("tokenizer.ggml.pre", .str("smollm")),
            ("tokenizer.ggml.tokens", .strs(tokens)),
            ("tokenizer.ggml.token_type", .i32s(tokens.indices.map { $0 < 3 ? 3 : 1 })),
            ("tokenizer.ggml.merges", .strs(["Ġ t", "h e", "Ġt he"])),
            ("tokenizer.ggml.eos_token_id", .u32(2)), ("tokenizer.ggml.add_bos_token", .bool(false)),
            ("tokenizer.chat_template", .str("{{'<|im_start|>system\nBe brief.<|im_end|>\n'}}")),
        ]
        mutateKV(&kv)
        var tensors: [(String, [Int], GGMLType, [UInt8])] = []
        func add(_ name: String, _ dims: [Int], _ type: GGMLType, scale: Float) {
            tensors.append((name, dims, type, TinyGGUF.encode(values(name, dims.reduce(1, *), scale: scale), type: type)))
        }
        add("token_embd.weight", [hidden, vocab], .q8_0, scale: 0.5)
        for l in 0..<layers {
            let p = "blk.\(l)."
            tensors.append((p + "attn_norm.weight", [hidden], .f32,
                            TinyGGUF.encode(values(p + "an", hidden, scale: 0.1).map { 1 + $0 }, type: .f32)))
            tensors.append((p + "ffn_norm.weight", [hidden], .f32,
                            TinyGGUF.encode(values(p + "fn", hidden, scale: 0.1).map { 1 + $0 }, type: .f32)))
            let s = 1 / Float(hidden).squareRoot()
            add(p + "attn_q.weight", [hidden, heads * headDim], linearType, scale: s)
            add(p + "attn_k.weight", [hidden, kvHeads * headDim], linearType, scale: s)
            add(p + "attn_v.weight", [hidden, kvHeads * headDim], linearType, scale: s)
            add(p + "attn_output.weight", [heads * headDim, hidden], linearType, scale: s)
            add(p + "ffn_gate.weight", [hidden, intermediate], linearType, scale: s)
            add(p + "ffn_up.weight", [hidden, intermediate], linearType, scale: s)
            add(p + "ffn_down.weight", [intermediate, hidden], linearType, scale: 1 / Float(intermediate).squareRoot())
        }
        tensors.append(("output_norm.weight", [hidden], .f32, TinyGGUF.encode([Float](repeating: 1, count: hidden), type: .f32)))
        mutateTensors(&tensors)

        var w = GGUFWriter()
        w.metadata = kv.map { k, v in
            switch v {
            case let .u32(x): return (k, .u32(x))
            case let .u64(x): return (k, .u64(x))
            case let .f32(x): return (k, .f32(x))
            case let .str(x): return (k, .string(x))
            case let .strs(x): return (k, .strings(x))
            case let .i32s(x): return (k, .i32s(x))
            case let .bool(x): return (k, .bool(x))
            case let .raw(type, bytes): return (k, .raw(type, bytes))
            }
        }
        w.tensors = tensors.map { GGUFWriter.Tensor($0.0, $0.1, $0.2) }
        return w.bytes(data: tensors.map(\.3))
    }

    /// Where tensor `name`'s info starts in `bytes` (its name's length field), to patch dims, type or offset:
    /// dims start at +8+name+4, then u32 type, then u64 offset.
    public static func infoOffset(_ bytes: [UInt8], tensor name: String) -> Int? {
        let needle = withUnsafeBytes(of: UInt64(name.utf8.count).littleEndian, Array.init) + Array(name.utf8)
        guard bytes.count > needle.count else { return nil }
        return (0...(bytes.count - needle.count)).last { Array(bytes[$0..<($0 + needle.count)]) == needle }
    }

    /// Overwrites 8 bytes at `at` with `v` (little-endian).
    public static func patch(_ bytes: inout [UInt8], at: Int, u64 v: UInt64) {
        for k in 0..<8 { bytes[at + k] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(k))) }
    }

    /// Writes `bytes` to a fresh temporary file and returns its path.
    public static func write(_ bytes: [UInt8], name: String = "tiny") throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString).gguf").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }
}
