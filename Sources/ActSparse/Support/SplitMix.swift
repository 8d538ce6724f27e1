/// A small deterministic generator (SplitMix64): same seed, same numbers on every rank and run.
public struct SplitMix: RandomNumberGenerator, Sendable {
    var state: UInt64
    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in (0, 1).
    public mutating func uniform() -> Float { (Float(next() >> 40) + 0.5) / Float(1 << 24) }

    /// Standard normal (Box–Muller).
    public mutating func gaussian() -> Float {
        let u = uniform(), v = uniform()
        return (-2 * logf(u)).squareRoot() * cosf(2 * .pi * v)
    }

    /// Laplace with unit scale.
    public mutating func laplace() -> Float {
        let u = uniform() - 0.5
        return u < 0 ? logf(1 + 2 * u) : -logf(1 - 2 * u)
    }
}

#if canImport(Glibc)
import Glibc
#endif
