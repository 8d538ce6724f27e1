import ActSparse

#if canImport(Glibc)
import Glibc
#endif

extension DistributedLlama {
    /// Mean negative log-likelihood (nats/token) of `ids` under the current thresholds, in windows of `window`
    /// tokens that each start a new sequence. Every position runs the decode path (sparse where the thresholds
    /// say), or, with `batched` (one rank only), one thresholded prefill per window: the same channels dropped,
    /// summed in another order, several times faster. `onToken` runs per scored token (progress bars). Rank 0.
    public func negativeLogLikelihood(_ ids: [Int32], window: Int, batched: Bool = false, onToken: () -> Void = {})
        throws -> (nll: Double, scored: Int, seconds: Double)
    {
        let model = try requireRoot()
        guard window >= 2 else {
            throw ActSparseError.invalidValue(what: "NLL window", expected: "≥ 2 tokens", found: "\(window)")
        }
        guard !batched || comm.size == 1 else {
            throw ActSparseError.invalidValue(what: "batched NLL", expected: "one rank", found: "\(comm.size) ranks")
        }
        let vocab = config.vocab
        var total = 0.0, scored = 0
        /// − log softmax(logits)[next]
        func score(_ logits: UnsafePointer<Float>, _ next: Int32) {
            var mx = -Float.infinity
            for v in 0..<vocab { mx = max(mx, logits[v]) }
            var sum = 0.0
            for v in 0..<vocab { sum += Double(expf(logits[v] - mx)) }
            total += log(sum) + Double(mx) - Double(logits[Int(next)])
            scored += 1
            onToken()
        }
        model.thresholdPrefill = batched
        for mlp in mlps { mlp.thresholdPrefill = batched }
        defer {
            model.thresholdPrefill = false
            for mlp in mlps { mlp.thresholdPrefill = false }
        }
        let t0 = Timing.now()
        for start in stride(from: 0, to: ids.count - 1, by: window) {
            let chunk = Array(ids[start..<min(ids.count, start + window)])
            guard chunk.count >= 2 else { break }
            model.reset()
            if batched {
                let inputs = Array(chunk.dropLast())
                guard inputs.count <= context else {
                    throw ActSparseError.shape(what: "NLL window", expected: "≤ \(context) tokens (--context)",
                                               found: "\(inputs.count)")
                }
                try header(.prefill, inputs.count)
                let logits = try withPrefillTimeout(inputs.count) { try model.prefill(inputs, allLogits: true) }
                for k in 0..<inputs.count { score(logits + k * vocab, chunk[k + 1]) }
            } else {
                for k in 0..<(chunk.count - 1) { score(try decode(chunk[k]), chunk[k + 1]) }
            }
        }
        return (scored > 0 ? total / Double(scored) : 0, scored, Double(Timing.now() - t0) * 1e-9)
    }
}
