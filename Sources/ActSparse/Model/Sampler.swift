/// Picks the next token from logits: greedy (argmax), or temperature + nucleus (top-p) with a seeded generator.
public struct Sampler {
    public var temperature: Float
    public var topP: Float
    var rng: SplitMix

    /// temperature 0 ⇒ greedy.
    public init(temperature: Float = 0, topP: Float = 1, seed: UInt64 = 1) {
        self.temperature = temperature
        self.topP = topP
        rng = SplitMix(seed: seed)
    }

    public mutating func sample(_ logits: UnsafePointer<Float>, count n: Int) throws -> Int32 {
        guard n > 0 && n <= Int(Int32.max) else {
            throw ActSparseError.invalidValue(what: "vocabulary size for sampling", expected: "1...\(Int32.max)", found: "\(n)")
        }
        var best = 0
        for i in 1..<n where logits[i] > logits[best] { best = i }
        guard temperature > 0 else { return Int32(best) }
        guard temperature.isFinite, topP > 0, topP <= 1 else {
            throw ActSparseError.invalidValue(what: "sampling settings", expected: "finite temperature ≥ 0, top-p in (0, 1]",
                                              found: "temperature \(temperature), top-p \(topP)")
        }
        var probs = [(Float, Int)]()
        probs.reserveCapacity(n)
        var sum: Float = 0
        for i in 0..<n {
            let p = expf((logits[i] - logits[best]) / temperature)
            probs.append((p, i))
            sum += p
        }
        probs.sort { $0.0 > $1.0 }
        var keep = 0, mass: Float = 0
        while keep < n && (keep == 0 || mass < topP * sum) { mass += probs[keep].0; keep += 1 }
        var r = rng.uniform() * mass
        for k in 0..<keep {
            r -= probs[k].0
            if r <= 0 { return Int32(probs[k].1) }
        }
        return Int32(probs[keep - 1].1)
    }
}

#if canImport(Glibc)
import Glibc
#endif
