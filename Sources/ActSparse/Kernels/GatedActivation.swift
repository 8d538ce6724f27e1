/// The gate of a gated MLP: a = act(g) ⊙ u, vectorised. SwiGLU (Llama, Qwen2) uses silu; GeGLU (Gemma) the
/// tanh approximation of GELU, as ggml computes it.
public enum GatedActivation: String, Sendable {
    case silu, geluTanh = "gelu-tanh"

    /// a[i] = act(g[i]) · u[i] for i in 0..<n. `a` may alias `g` or `u`.
    public func apply(gate g: UnsafePointer<Float>, up u: UnsafePointer<Float>,
                      into a: UnsafeMutablePointer<Float>, count n: Int) {
        switch self {
        case .silu: SwiGLU.apply(gate: g, up: u, into: a, count: n)
        case .geluTanh: GatedActivation.geglu(gate: g, up: u, into: a, count: n)
        }
    }

    /// The scalar reference: act(x).
    public func reference(_ x: Float) -> Float {
        switch self {
        case .silu: return x / (1 + expf(-x))
        case .geluTanh:
            return 0.5 * x * (1 + tanhf(0.797_884_56 * x * (1 + 0.044_715 * x * x)))
        }
    }

    /// gelu(x) = 0.5·x·(1 + tanh(z)), z = √(2/π)·(x + 0.044715·x³); tanh(z) = 1 − 2/(e^{2z} + 1).
    static func geglu(gate g: UnsafePointer<Float>, up u: UnsafePointer<Float>,
                      into a: UnsafeMutablePointer<Float>, count n: Int) {
        typealias V = SIMD16<Float>
        @inline(__always) func gelu(_ x: V) -> V {
            let z = 0.797_884_56 * x * (1 + 0.044_715 * x * x)
            let t = 1 - 2 / (SwiGLU.exp(2 * z) + 1)
            return 0.5 * x * (1 + t)
        }
        var i = 0
        while i + 16 <= n {
            let gv = UnsafeRawPointer(g + i).loadUnaligned(as: V.self)
            let uv = UnsafeRawPointer(u + i).loadUnaligned(as: V.self)
            UnsafeMutableRawPointer(a + i).storeBytes(of: gelu(gv) * uv, as: V.self)
            i += 16
        }
        while i < n {
            a[i] = gelu(V(repeating: g[i]))[0] * u[i]
            i += 1
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
