import ActSparse

/// Deterministic Gaussian weights [IC, OC] with a few larger outliers, as real FC weights have.
public func makeWeights(ic: Int, oc: Int, seed: UInt64) -> [Float] {
    var rng = SplitMix(seed: seed)
    return (0..<(ic * oc)).map { _ in rng.gaussian() * 0.05 * (rng.uniform() < 0.01 ? 8 : 1) }
}

/// Activation with Laplace-like values and some exact zeros.
public func makeActivation(_ n: Int, seed: UInt64, zeros: Bool = true) -> [Float] {
    var rng = SplitMix(seed: seed)
    return (0..<n).map { i in zeros && i % 11 == 3 ? 0 : rng.laplace() }
}
