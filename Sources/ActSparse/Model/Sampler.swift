#if canImport(Glibc)
import Glibc
#endif

/// Picks the next token from logits: greedy (argmax), or temperature + nucleus (top-p), top-k and min-p with a
/// seeded generator. All three cuts keep a prefix of the tokens sorted by probability, so their order does not
/// matter and the shortest prefix wins.
public struct Sampler {
    public var temperature: Float
    public var topP: Float
    /// Keep at most this many tokens (0: no limit).
    public var topK: Int = 0
    /// Keep tokens whose probability is at least this fraction of the most likely one's (0: no limit).
    public var minP: Float = 0
    var rng: SplitMix

    /// temperature 0 ⇒ greedy.
    public init(temperature: Float = 0, topP: Float = 1, topK: Int = 0, minP: Float = 0, seed: UInt64 = 1) {
        self.temperature = temperature
        self.topP = topP
        self.topK = topK
        self.minP = minP
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
        return try pick(probs, total: sum)
    }

    /// The nucleus draw: `candidates` (probability relative to the largest, token) hold at least every token of
    /// the nucleus, `total` is the sum over the whole vocabulary. Under vocabulary-sliced heads each rank sends
    /// only its tokens that can be in the nucleus (`nucleusCandidates`), and this gives the same draw.
    public mutating func pick(_ candidates: [(Float, Int)], total sum: Float) throws -> Int32 {
        guard !candidates.isEmpty, sum > 0, sum.isFinite else {
            throw ActSparseError.invalidValue(what: "sampling candidates", expected: "≥ 1 and a finite positive total",
                                              found: "\(candidates.count), total \(sum)")
        }
        var probs = candidates
        let n = probs.count
        probs.sort(by: Sampler.descending)
        var keep = 0, mass: Float = 0
        while keep < n && (keep == 0 || mass < topP * sum) { mass += probs[keep].0; keep += 1 }
        // Top-k and min-p shorten the nucleus further (p here is relative to the most likely token's).
        let floor = minP * probs[0].0
        let nucleus = keep
        while keep > 1 && ((topK > 0 && keep > topK) || probs[keep - 1].0 < floor) { keep -= 1 }
        if keep < nucleus { mass = probs[..<keep].reduce(0) { $0 + $1.0 } }
        var r = rng.uniform() * mass
        for k in 0..<keep {
            r -= probs[k].0
            if r <= 0 { return Int32(probs[k].1) }
        }
        return Int32(probs[keep - 1].1)
    }

    /// One slice's share of the nucleus: p = exp((logit − max) / T) of `count` logits whose first token id is
    /// `offset`, sorted, cut after the first prefix whose mass reaches topP · total (that prefix holds every
    /// token of this slice that the whole nucleus can hold). `max` and `total` are over the whole vocabulary.
    public func nucleusCandidates(_ logits: UnsafePointer<Float>, count n: Int, offset: Int, max mx: Float,
                                  total: Float) -> [(Float, Int)] {
        var probs: [(Float, Int)] = []
        probs.reserveCapacity(n)
        for i in 0..<n { probs.append((expf((logits[i] - mx) / temperature), offset + i)) }
        probs.sort(by: Sampler.descending)
        var keep = 0, mass: Float = 0
        while keep < n && (keep == 0 || mass < topP * total) { mass += probs[keep].0; keep += 1 }
        return Array(probs[..<keep])
    }

    /// Larger p first; equal p: smaller token first (the same order whoever sorts).
    static func descending(_ a: (Float, Int), _ b: (Float, Int)) -> Bool { a.0 > b.0 || (a.0 == b.0 && a.1 < b.1) }

    /// Σ exp((logit − max) / T) over one slice.
    public func partialSum(_ logits: UnsafePointer<Float>, count n: Int, max mx: Float) -> Float {
        var sum: Float = 0
        for i in 0..<n { sum += expf((logits[i] - mx) / temperature) }
        return sum
    }

    /// Throws unless the settings can sample.
    public func validate() throws {
        guard temperature >= 0, temperature.isFinite, topP > 0, topP <= 1, topK >= 0, minP >= 0, minP <= 1 else {
            throw ActSparseError.invalidValue(what: "sampling settings",
                                              expected: "finite temperature ≥ 0, top-p in (0, 1], top-k ≥ 0, min-p in [0, 1]",
                                              found: "temperature \(temperature), top-p \(topP), top-k \(topK), min-p \(minP)")
        }
    }
}
