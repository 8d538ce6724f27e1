import ActSparse

#if canImport(Glibc)
import Glibc
#endif

/// Log-probabilities of every scored position [rows, vocab]: the dense model's, kept to measure how far a sparse
/// plan's predictions move from them (KL divergence).
public final class LogProbTable {
    let buffer = GrowableBuffer()
    public internal(set) var rows = 0
    public init() {}
}

extension DistributedLlama {
    /// Mean negative log-likelihood (nats/token) of `ids` under the current thresholds, in windows of `window`
    /// tokens that each start a new sequence. Every position runs the decode path (sparse where the thresholds
    /// say), or, with `batched` (one rank only), one thresholded prefill per window: the same channels dropped,
    /// summed in another order, several times faster. `record` keeps every position's log-probabilities;
    /// `reference` (a table recorded on the same ids) adds the mean KL(reference ‖ this run) per position: the
    /// ΔNLL the model would expect on its own text, ≥ 0 and far less noisy than ΔNLL on a few hundred tokens.
    /// `onToken` runs per scored token (progress bars). Rank 0.
    public func negativeLogLikelihood(_ ids: [Int32], window: Int, batched: Bool = false, record: LogProbTable? = nil,
                                      reference: LogProbTable? = nil, onToken: () -> Void = {})
        throws -> (nll: Double, scored: Int, seconds: Double, kl: Double?)
    {
        let model = try requireRoot()
        guard window >= 2 else {
            throw ActSparseError.invalidValue(what: "NLL window", expected: "≥ 2 tokens", found: "\(window)")
        }
        guard !batched || comm.size == 1 else {
            throw ActSparseError.invalidValue(what: "batched NLL", expected: "one rank", found: "\(comm.size) ranks")
        }
        let vocab = config.vocab
        let starts = Array(stride(from: 0, to: max(0, ids.count - 1), by: window)).filter { min(ids.count, $0 + window) - $0 >= 2 }
        let rows = starts.reduce(0) { $0 + min(ids.count, $1 + window) - $1 - 1 }  // positions scored
        let (cells, overflow) = max(0, ids.count).multipliedReportingOverflow(by: vocab)
        guard !overflow else { throw ActSparseError.shape(what: "log-probabilities", expected: "fewer tokens", found: "\(ids.count)") }
        let kept = try record.map { try $0.buffer.floats(cells) }
        let ref = try reference.map { r -> UnsafeMutablePointer<Float> in
            guard r.rows == rows else {
                throw ActSparseError.shape(what: "reference log-probabilities", expected: "\(rows) rows", found: "\(r.rows)")
            }
            return try r.buffer.floats(cells)
        }
        var total = 0.0, divergence = 0.0, scored = 0
        /// − log softmax(logits)[next]; the row's log-probabilities recorded or compared
        func score(_ logits: UnsafePointer<Float>, _ next: Int32) {
            var mx = -Float.infinity
            for v in 0..<vocab { mx = max(mx, logits[v]) }
            var sum = 0.0
            for v in 0..<vocab { sum += Double(expf(logits[v] - mx)) }
            let lse = Float(log(sum)) + mx
            total += Double(lse - logits[Int(next)])
            if let kept { for v in 0..<vocab { kept[scored * vocab + v] = logits[v] - lse } }
            if let ref {
                var d = 0.0
                let row = ref + scored * vocab
                for v in 0..<vocab where row[v] > -80 { d += Double(expf(row[v]) * (row[v] - (logits[v] - lse))) }
                divergence += max(0, d)
            }
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
        for start in starts {
            let chunk = Array(ids[start..<min(ids.count, start + window)])
            model.reset()
            if batched {
                let inputs = Array(chunk.dropLast())
                guard inputs.count <= context else {
                    throw ActSparseError.shape(what: "NLL window", expected: "≤ \(context) tokens (the context)",
                                               found: "\(inputs.count)")
                }
                try header(.prefill, inputs.count)
                let logits = try withPrefillTimeout(inputs.count) { try model.prefill(inputs, allLogits: true) }
                for k in 0..<inputs.count { score(logits + k * vocab, chunk[k + 1]) }
            } else {
                for k in 0..<(chunk.count - 1) { score(try decode(chunk[k]), chunk[k + 1]) }
            }
        }
        record?.rows = scored
        let n = Double(max(1, scored))
        return (total / n, scored, Double(Timing.now() - t0) * 1e-9, ref == nil ? nil : divergence / n)
    }
}
