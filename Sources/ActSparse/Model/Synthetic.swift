/// Deterministic synthetic layers and activations for benchmarks and distributed tests. Every element is a pure
/// function of (seed, tensor tag, row, column), so a rank generates exactly its own slice and nothing else.
public enum Synthetic {
    /// 64-bit mix of the coordinates (SplitMix64 finaliser).
    @inline(__always) static func hash(_ a: UInt64, _ b: UInt64, _ c: UInt64) -> UInt64 {
        var z = a &* 0x9E37_79B9_7F4A_7C15 ^ b &* 0xC2B2_AE3D_27D4_EB4F ^ c &* 0x1656_67B1_9E37_79F9
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Approximately standard normal (Irwin–Hall: four 16-bit uniforms), cheap enough for 10⁸ elements.
    @inline(__always) static func normal(_ h: UInt64) -> Float {
        let s = Float(h & 0xFFFF) + Float((h >> 16) & 0xFFFF) + Float((h >> 32) & 0xFFFF) + Float(h >> 48)
        return (s / 65536 - 2) * 1.7320508  // variance of a sum of 4 U(0,1) is 1/3
    }

    /// W[rows, cols] of an [IC, OC] weight named `tag`, row-major [rows.count, cols.count]; N(0, 1/IC).
    public static func weights(seed: UInt64, tag: UInt64, ic: Int, rows: Range<Int>, cols: Range<Int>) -> [Float] {
        let scale = 1 / Float(ic).squareRoot()
        var w = [Float](repeating: 0, count: rows.count * cols.count)
        w.withUnsafeMutableBufferPointer { p in
            var k = 0
            for i in rows {
                let rowKey = hash(seed, tag, UInt64(i))
                for o in cols {
                    p[k] = normal(hash(rowKey, UInt64(o), 0x5eed)) * scale
                    k += 1
                }
            }
        }
        return w
    }

    /// MLP input of token `token`: Gaussian per channel with a log-normal per-channel scale (a few channels are
    /// much larger than the rest, as after RMSNorm in real models).
    public static func hidden(seed: UInt64, token: Int, width: Int, into x: UnsafeMutablePointer<Float>) {
        for i in 0..<width {
            let channelScale = expf(0.5 * normal(hash(seed, 0xC4A7, UInt64(i))))
            x[i] = channelScale * normal(hash(seed, UInt64(token) &+ 0x1000, UInt64(i)))
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
