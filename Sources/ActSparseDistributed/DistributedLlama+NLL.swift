import ActSparse
import CActSparse

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
        guard !batched || comm.size == 1 || scope == .model else {
            throw ActSparseError.invalidValue(what: "batched NLL", expected: "one rank or whole-model shards",
                                              found: "\(comm.size) ranks sharding the \(scope.rawValue)")
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
        let isa = model.isa.rawValue, threads = model.threads
        /// Scores rows 0..<count of `logits` [count, vocab] (next tokens `next`): every row's − log softmax[next],
        /// its log-probabilities recorded or compared, rows split over the threads and summed in row order.
        func score(_ logits: UnsafePointer<Float>, count: Int, next: ArraySlice<Int32>) {
            var nll = [Double](repeating: 0, count: count), kl = [Double](repeating: 0, count: count)
            let base = scored, parts = Parallel.split(count, parts: threads, align: 1)
            nll.withUnsafeMutableBufferPointer { nllp in
                kl.withUnsafeMutableBufferPointer { klp in
                    let nllBase = nllp.baseAddress!, klBase = klp.baseAddress!
                    Parallel.run(parts.count) { w in
                        for r in parts[w] {
                            actsparse_score_row_isa(isa, logits + r * vocab, Int32(vocab), next[next.startIndex + r],
                                                    ref.map { UnsafePointer($0 + (base + r) * vocab) },
                                                    kept.map { $0 + (base + r) * vocab }, nllBase + r, klBase + r)
                        }
                    }
                }
            }
            for r in 0..<count {
                total += nll[r]
                divergence += max(0, kl[r])
                onToken()
            }
            scored += count
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
                score(try scoringPrefill(inputs), count: inputs.count, next: chunk.dropFirst())
            } else {
                for k in 0..<(chunk.count - 1) { score(try decode(chunk[k]), count: 1, next: chunk[(k + 1)...(k + 1)]) }
            }
        }
        record?.rows = scored
        let n = Double(max(1, scored))
        return (total / n, scored, Double(Timing.now() - t0) * 1e-9, ref == nil ? nil : divergence / n)
    }

    /// Rank 0: a thresholded prefill of `tokens` (a new sequence: the caller resets) on every rank; every row's
    /// logits [m, vocab] on rank 0, gathered from the vocabulary slices in `model` scope.
    func scoringPrefill(_ tokens: [Int32]) throws -> UnsafeMutablePointer<Float> {
        let model = try requireRoot()
        let m = tokens.count
        guard m >= 1, m <= contextLeft else {
            throw ActSparseError.shape(what: "scored window", expected: "1...\(contextLeft) tokens (the context)", found: "\(m)")
        }
        try header(.prefill, m, flags: [.thresholded, .allRows])
        return try withPrefillTimeout(m) {
            if scope == .model {
                var ids = tokens
                try comm.broadcast(&ids, count: m)
            }
            return try thresholdingPrefill(true) {
                let rows = try model.prefill(tokens, allLogits: true)
                return try gatherRows(rows, m: m) ?? rows
            }
        }
    }

    /// Runs `body` with every thresholded input of this rank's prefill dropped as decode drops it (`on`).
    func thresholdingPrefill<T>(_ on: Bool, _ body: () throws -> T) rethrows -> T {
        guard on, let local else { return try body() }
        local.thresholdPrefill = true
        for mlp in mlps { mlp.thresholdPrefill = true }
        defer {
            local.thresholdPrefill = false
            for mlp in mlps { mlp.thresholdPrefill = false }
        }
        return try body()
    }

    /// Every rank's rows of logits [m, vocab_r] to rank 0 as [m, vocab] (`model` scope; every rank calls it);
    /// nil where this rank already holds the whole rows (one rank, `mlp` scope) or is not rank 0.
    func gatherRows(_ rows: UnsafeMutablePointer<Float>, m: Int) throws -> UnsafeMutablePointer<Float>? {
        guard scope == .model, let shard = local?.shard, !shard.isWhole else { return nil }
        let t0 = Timing.now()
        defer { headNanos &+= Timing.now() - t0 }
        let (cells, overflow) = m.multipliedReportingOverflow(by: config.vocab)
        guard !overflow, cells <= Int(Int32.max) else {
            throw ActSparseError.shape(what: "gathered logits", expected: "< 2^31 values", found: "\(m) rows × \(config.vocab)")
        }
        let packed = comm.isRoot ? try packedRows.floats(cells) : nil
        try comm.gatherv(rows, count: m * shard.vocab.count, into: packed, counts: shard.vocabCounts.map { $0 * m }, root: 0)
        guard let packed else { return nil }
        let out = try allRows.floats(cells)
        RankBlocks.interleave(packed, rows: m, widths: shard.vocabCounts, into: out)  // the slices are in order
        return out
    }
}
