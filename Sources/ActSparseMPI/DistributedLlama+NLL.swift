import ActSparse

#if canImport(Glibc)
import Glibc
#endif

extension DistributedLlama {
    /// Mean negative log-likelihood (nats/token) of `ids` under the current thresholds, every position through
    /// the decode path (sparse where the thresholds say), in windows of `window` tokens that each start a new
    /// sequence. `onToken` runs after each scored token (progress bars). Rank 0.
    public func negativeLogLikelihood(_ ids: [Int32], window: Int, onToken: () -> Void = {}) throws
        -> (nll: Double, scored: Int, seconds: Double)
    {
        let model = try requireRoot()
        guard window >= 2 else {
            throw ActSparseError.invalidValue(what: "NLL window", expected: "≥ 2 tokens", found: "\(window)")
        }
        let vocab = config.vocab
        var total = 0.0, scored = 0
        let t0 = Timing.now()
        for start in stride(from: 0, to: ids.count - 1, by: window) {
            let chunk = ids[start..<min(ids.count, start + window)]
            guard chunk.count >= 2 else { break }
            model.reset()
            for k in chunk.startIndex..<(chunk.endIndex - 1) {
                let logits = try decode(chunk[k])
                var mx = -Float.infinity
                for v in 0..<vocab { mx = max(mx, logits[v]) }
                var sum = 0.0
                for v in 0..<vocab { sum += Double(expf(logits[v] - mx)) }
                total += log(sum) + Double(mx) - Double(logits[Int(chunk[k + 1])])
                scored += 1
                onToken()
            }
        }
        return (scored > 0 ? total / Double(scored) : 0, scored, Double(Timing.now() - t0) * 1e-9)
    }
}
