import ActSparse
import ActSparseDistributed
import ActSparseTestSupport
import Foundation
import Testing

/// A straightforward scalar forward of the Llama-shaped families over fully dequantized weights, in Double: the
/// twin of LlamaModel. Written from the families' definitions (biases, q/k norms, post-norms, NEOX RoPE, GeGLU,
/// sliding windows, √hidden embedding scale), not from LlamaModel's code.
final class ReferenceLlama {
    let c: LlamaConfig
    let g: GGUFFile
    /// name → [rows][ne0] dequantized (a linear weight: [OC][IC])
    var w: [String: [[Double]]] = [:]
    var kCache: [[[Double]]] = [], vCache: [[[Double]]] = []
    /// [layer][site] thresholds on |x| of the attention input, attention output, MLP input and gated activation
    /// (nil: dense): channels with |x| ≤ t are dropped before the FCs they feed.
    var thresholds: [[Double]]?

    init(_ g: GGUFFile) throws {
        self.g = g
        c = try LlamaConfig(gguf: g)
        for name in g.tensorNames {
            let t = try g.tensor(name)
            let rows = t.dims.count > 1 ? t.dims[1] : 1
            var m: [[Double]] = []
            var buf = [Float](repeating: 0, count: t.dims[0])
            for r in 0..<rows {
                g.dequantizeRow(t, r, into: &buf)
                m.append(buf.map(Double.init))
            }
            w[name] = m
        }
        kCache = Array(repeating: [], count: c.layers)
        vCache = kCache
    }

    var arch: Architecture { c.architecture }

    func drop(_ x: [Double], _ l: Int, _ site: SparsitySite) -> [Double] {
        guard let t = thresholds?[l][site.rawValue], t > 0 else { return x }
        return x.map { abs($0) > t ? $0 : 0 }
    }

    func linear(_ name: String, _ x: [Double]) -> [Double] {
        var y = w[name]!.map { row in zip(row, x).reduce(0) { $0 + $1.0 * $1.1 } }
        if let b = w[name.replacingOccurrences(of: ".weight", with: ".bias")]?[0] { y = zip(y, b).map { $0 + $1 } }
        return y
    }

    func norm(_ x: [Double], _ weight: [Double]) -> [Double] {
        let ms = x.reduce(0) { $0 + $1 * $1 } / Double(x.count)
        let s = 1 / (ms + Double(c.eps)).squareRoot()
        return zip(x, weight).map { $0 * s * $1 }
    }
    func norm(_ x: [Double], _ name: String) -> [Double] { norm(x, w[name]![0]) }

    /// ggml's RoPE scaling, from the file: linear `rope.scaling.factor` divides positions; `rope_freqs.weight`
    /// (Llama-3.1) divides each frequency i by its factor (global layers; sliding-window layers scale nothing).
    lazy var positionScale: Double = {
        let md = g.metadata
        guard md["\(arch.name).rope.scaling.type"]?.string == "linear" else { return 1 }
        return 1 / (md["\(arch.name).rope.scaling.factor"]?.float ?? 1)
    }()
    var frequencyFactors: [Double]? { w["rope_freqs.weight"]?[0] }

    func rope(_ v: inout [Double], heads: Int, pos: Int, base: Double, local: Bool = false) {
        let d = c.headDim
        let scale = local ? 1 : positionScale, factors = local ? nil : frequencyFactors
        for h in 0..<heads {
            for i in 0..<(d / 2) {
                let theta = Double(pos) * scale * pow(base, -2 * Double(i) / Double(d)) / (factors?[i] ?? 1)
                let (ia, ib) = arch.rope == .neox ? (h * d + i, h * d + i + d / 2) : (h * d + 2 * i, h * d + 2 * i + 1)
                let a = v[ia], b = v[ib]
                v[ia] = a * cos(theta) - b * sin(theta)
                v[ib] = a * sin(theta) + b * cos(theta)
            }
        }
    }

    func act(_ x: Double) -> Double {
        switch arch.activation {
        case .silu: return x / (1 + exp(-x))
        case .geluTanh: return 0.5 * x * (1 + tanh((2 / Double.pi).squareRoot() * (x + 0.044715 * x * x * x)))
        }
    }

    /// Logits after feeding `token` at the next position.
    func step(_ token: Int) -> [Double] {
        var x = w["token_embd.weight"]![token]
        if arch.embeddingScale { x = x.map { $0 * Double(c.hidden).squareRoot() } }
        let d = c.headDim, group = c.heads / c.kvHeads
        for l in 0..<c.layers {
            let p = "blk.\(l)."
            let local = c.isLocal(l)
            let xn = drop(norm(x, p + "attn_norm.weight"), l, .attention)
            var q = linear(p + "attn_q.weight", xn), k = linear(p + "attn_k.weight", xn)
            let v = linear(p + "attn_v.weight", xn)
            if arch.qkNorm {
                q = (0..<c.heads).flatMap { norm(Array(q[($0 * d)..<($0 * d + d)]), p + "attn_q_norm.weight") }
                k = (0..<c.kvHeads).flatMap { norm(Array(k[($0 * d)..<($0 * d + d)]), p + "attn_k_norm.weight") }
            }
            let pos = kCache[l].count
            let base = local ? Double(arch.localRopeBase!) : Double(c.ropeBase)
            rope(&q, heads: c.heads, pos: pos, base: base, local: local)
            rope(&k, heads: c.kvHeads, pos: pos, base: base, local: local)
            kCache[l].append(k)
            vCache[l].append(v)
            let first = local ? max(0, pos - c.window + 1) : 0
            var att = [Double](repeating: 0, count: c.heads * d)
            for h in 0..<c.heads {
                let kvh = h / group
                let scores = (first...pos).map { t in
                    (0..<d).reduce(0.0) { $0 + q[h * d + $1] * kCache[l][t][kvh * d + $1] } * Double(c.attentionScale)
                }
                let mx = scores.max()!
                let e = scores.map { exp($0 - mx) }
                let sum = e.reduce(0, +)
                for (j, t) in (first...pos).enumerated() { for i in 0..<d { att[h * d + i] += e[j] / sum * vCache[l][t][kvh * d + i] } }
            }
            var o = linear(p + "attn_output.weight", drop(att, l, .output))
            if arch.postNorms { o = norm(o, p + "post_attention_norm.weight") }
            x = zip(x, o).map { $0 + $1 }
            let hn = drop(norm(x, p + "ffn_norm.weight"), l, .gateUp)
            let gate = linear(p + "ffn_gate.weight", hn), up = linear(p + "ffn_up.weight", hn)
            let a = drop(zip(gate, up).map { act($0) * $1 }, l, .down)
            var m = linear(p + "ffn_down.weight", a)
            if arch.postNorms { m = norm(m, p + "post_ffw_norm.weight") }
            x = zip(x, m).map { $0 + $1 }
        }
        let hn = norm(x, "output_norm.weight")
        let head = w["output.weight"] ?? w["token_embd.weight"]!
        return head.map { row in zip(row, hn).reduce(0) { $0 + $1.0 * $1.1 } }
    }
}

/// Decodes six tokens and then prefills them from an empty cache, expecting each step's logits and the prefill's
/// last logits within `maxLogitError` of the reference's (relative to the logits' RMS).
func expectMatchesReference(_ llm: DistributedLlama, _ what: String,
                            sourceLocation: SourceLocation = #_sourceLocation) throws {
    let ref = try ReferenceLlama(llm.gguf)
    let tokens: [Int32] = [5, 80, 200, 7, 150, 33]
    func maxError(_ got: UnsafeMutablePointer<Float>, _ want: [Double]) -> (err: Double, rms: Double) {
        let rms = (want.reduce(0) { $0 + $1 * $1 } / Double(want.count)).squareRoot()
        return ((0..<want.count).map { abs(Double(got[$0]) - want[$0]) }.max()!, rms)
    }
    var last: [Double] = []
    for (k, t) in tokens.enumerated() {
        last = ref.step(Int(t))
        let (err, rms) = maxError(try llm.decode(t), last)
        #expect(err <= maxLogitError * rms, "\(what) token #\(k): max |Δlogit| \(err), rms \(rms)",
                sourceLocation: sourceLocation)
    }
    // Prefill of the same tokens from an empty cache gives the last step's logits.
    llm.model!.reset()
    let (err, rms) = maxError(try llm.prefill(tokens), last)
    #expect(err <= maxLogitError * rms, "\(what) prefill: max |Δlogit| \(err)", sourceLocation: sourceLocation)
}
