import ActSparse
import Foundation

/// A straightforward scalar Llama forward over fully dequantized weights, in Double: the twin of LlamaModel.
final class ReferenceLlama {
    let c: LlamaConfig
    let g: GGUFFile
    /// name → [rows][ne0] dequantized (a linear weight: [OC][IC])
    var w: [String: [[Double]]] = [:]
    var kCache: [[[Double]]] = [], vCache: [[[Double]]] = []

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

    func linear(_ name: String, _ x: [Double]) -> [Double] { w[name]!.map { row in zip(row, x).reduce(0) { $0 + $1.0 * $1.1 } } }

    func norm(_ x: [Double], _ name: String) -> [Double] {
        let ms = x.reduce(0) { $0 + $1 * $1 } / Double(x.count)
        let s = 1 / (ms + Double(c.eps)).squareRoot()
        return zip(x, w[name]![0]).map { $0 * s * $1 }
    }

    func rope(_ v: inout [Double], heads: Int, pos: Int) {
        let d = c.headDim
        for h in 0..<heads {
            for i in 0..<(d / 2) {
                let theta = Double(pos) * pow(Double(c.ropeBase), -2 * Double(i) / Double(d))
                let a = v[h * d + 2 * i], b = v[h * d + 2 * i + 1]
                v[h * d + 2 * i] = a * cos(theta) - b * sin(theta)
                v[h * d + 2 * i + 1] = a * sin(theta) + b * cos(theta)
            }
        }
    }

    /// Logits after feeding `token` at the next position.
    func step(_ token: Int) -> [Double] {
        var x = w["token_embd.weight"]![token]
        let d = c.headDim, group = c.heads / c.kvHeads
        for l in 0..<c.layers {
            let p = "blk.\(l)."
            let xn = norm(x, p + "attn_norm.weight")
            var q = linear(p + "attn_q.weight", xn), k = linear(p + "attn_k.weight", xn)
            let v = linear(p + "attn_v.weight", xn)
            let pos = kCache[l].count
            rope(&q, heads: c.heads, pos: pos)
            rope(&k, heads: c.kvHeads, pos: pos)
            kCache[l].append(k)
            vCache[l].append(v)
            var att = [Double](repeating: 0, count: c.heads * d)
            for h in 0..<c.heads {
                let kvh = h / group
                let scores = kCache[l].map { kk in (0..<d).reduce(0.0) { $0 + q[h * d + $1] * kk[kvh * d + $1] } / Double(d).squareRoot() }
                let mx = scores.max()!
                let e = scores.map { exp($0 - mx) }
                let sum = e.reduce(0, +)
                for (t, vv) in vCache[l].enumerated() { for i in 0..<d { att[h * d + i] += e[t] / sum * vv[kvh * d + i] } }
            }
            x = zip(x, linear(p + "attn_output.weight", att)).map { $0 + $1 }
            let hn = norm(x, p + "ffn_norm.weight")
            let gate = linear(p + "ffn_gate.weight", hn), up = linear(p + "ffn_up.weight", hn)
            let a = zip(gate, up).map { $0 / (1 + exp(-$0)) * $1 }
            x = zip(x, linear(p + "ffn_down.weight", a)).map { $0 + $1 }
        }
        let hn = norm(x, "output_norm.weight")
        return w["token_embd.weight"]!.map { row in zip(row, hn).reduce(0) { $0 + $1.0 * $1.1 } }
    }
}
