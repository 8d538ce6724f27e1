import ActSparse
import ActSparseCalibration
import ActSparseDistributed
import ActSparseTestSupport
import Foundation
import Testing

@Suite("model-wide sparsity on a tiny model")
struct SparsityBudgetTests {
    /// Thresholds of every site from a dense prefill of a few tokens (the calibrate command's first pass).
    func calibrate(_ llm: DistributedLlama) throws -> ThresholdTable {
        let c = llm.config, model = llm.model!
        let cal = ThresholdCalibrator(layers: c.layers)
        model.capture = { l, site, x, m in
            cal.add(layer: l, site: site, x: x, m: m, width: site == .attention ? c.hidden : c.qDim, skip: 0)
        }
        for (l, mlp) in llm.mlps.enumerated() {
            mlp.capture = { x, a, m in cal.add(layer: l, x: x, a: a, m: m, hidden: c.hidden, intermediate: c.intermediate, skip: 0) }
        }
        try llm.prefill([3, 17, 90, 200, 44, 5, 61, 130, 9, 250, 77, 12])
        model.capture = nil
        for mlp in llm.mlps { mlp.capture = nil }
        model.reset()
        return cal.table(config: c, modelBytes: llm.gguf.size)
    }

    @Test("thresholds on every linear input: decode equals the reference forward with the same channels dropped",
          arguments: [1, 2])
    func modelWideMatchesReference(threads: Int) throws {
        let path = try TinyGGUF.write(TinyGGUF().bytes())
        defer { try? FileManager.default.removeItem(atPath: path) }
        let llm = try DistributedLlama(comm: LocalCommunicator(), path: path, mode: .gather, threads: threads, context: 16)
        let table = try calibrate(llm)
        #expect(table.modelWide && table.version == 2)
        let plan = SparsityPlan.uniform(layers: llm.config.layers, gateUp: 0.5, down: 0.4, attention: 0.5)
        try llm.setPlan(plan, table: table)
        let ref = try ReferenceLlama(llm.gguf)
        ref.thresholds = try table.thresholds(plan).map { $0.map(Double.init) }
        #expect(ref.thresholds!.allSatisfy { $0.allSatisfy { $0 > 0 } })
        llm.resetStats()
        for t: Int32 in [5, 80, 200, 7, 150] {
            let got = try llm.decode(t), want = ref.step(Int(t))
            let rms = (want.reduce(0) { $0 + $1 * $1 } / Double(want.count)).squareRoot()
            let err = (0..<want.count).map { abs(Double(got[$0]) - want[$0]) }.max()!
            #expect(err <= maxLogitError * rms, "token \(t): max |Δlogit| \(err), rms \(rms)")
        }
        let realized = llm.realizedSiteSparsity
        for (site, r) in zip(SparsitySite.allCases, realized) {
            #expect(r > 0.15 && r < 0.85, "\(site.name): realized \(r)")
        }
        // Back to dense: the same logits as a fresh dense model, bit for bit.
        try llm.setPlan(.dense(layers: llm.config.layers), table: nil)
        llm.model!.reset()
        let dense = try DistributedLlama(comm: LocalCommunicator(), path: path, mode: .gather, threads: threads, context: 16)
        for t: Int32 in [5, 80] {
            let a = Array(UnsafeBufferPointer(start: try llm.decode(t), count: llm.config.vocab))
            let b = Array(UnsafeBufferPointer(start: try dense.decode(t), count: llm.config.vocab))
            #expect(a.map(\.bitPattern) == b.map(\.bitPattern))
        }
    }

    @Test("held-out NLL: windows restart the sequence; dropping channels changes it; batched equals decode")
    func negativeLogLikelihood() throws {
        let path = try TinyGGUF.write(TinyGGUF().bytes())
        defer { try? FileManager.default.removeItem(atPath: path) }
        let llm = try DistributedLlama(comm: LocalCommunicator(), path: path, mode: .gather, threads: 1, context: 16)
        let ids: [Int32] = [5, 80, 200, 7, 150, 33, 9]
        // Reference: log-softmax of the scalar forward, one window of 4 then one of 3.
        var want = 0.0
        for window in [Array(ids[0..<4]), Array(ids[4..<7])] {
            let ref = try ReferenceLlama(llm.gguf)
            for k in 0..<(window.count - 1) {
                let logits = ref.step(Int(window[k]))
                let mx = logits.max()!
                want += log(logits.reduce(0) { $0 + exp($1 - mx) }) + mx - logits[Int(window[k + 1])]
            }
        }
        want /= 5
        let dense = try llm.negativeLogLikelihood(ids, window: 4)
        #expect(dense.scored == 5)
        #expect(abs(dense.nll - want) < 1e-3, "\(dense.nll) vs \(want)")
        let table = try calibrate(llm)
        try llm.setPlan(.uniform(layers: llm.config.layers, gateUp: 0.9, down: 0.9, attention: 0.9), table: table)
        let sparse = try llm.negativeLogLikelihood(ids, window: 4)
        #expect(sparse.nll != dense.nll)
        // Batched (thresholded prefill) scores the same channels: equal within summation order.
        let batched = try llm.negativeLogLikelihood(ids, window: 4, batched: true)
        #expect(batched.scored == 5 && abs(batched.nll - sparse.nll) < 1e-3, "\(batched.nll) vs \(sparse.nll)")
        try llm.setPlan(.dense(layers: llm.config.layers), table: nil)
        let denseBatched = try llm.negativeLogLikelihood(ids, window: 4, batched: true)
        #expect(abs(denseBatched.nll - want) < 1e-3, "\(denseBatched.nll) vs \(want)")
        // KL from recorded dense predictions: 0 for the dense plan itself, > 0 once channels are dropped.
        let reference = LogProbTable()
        _ = try llm.negativeLogLikelihood(ids, window: 4, batched: true, record: reference)
        #expect(reference.rows == 5)
        let same = try llm.negativeLogLikelihood(ids, window: 4, batched: true, reference: reference)
        #expect((same.kl ?? 1) < 1e-6, "\(String(describing: same.kl))")
        try llm.setPlan(.uniform(layers: llm.config.layers, gateUp: 0.9, down: 0.9, attention: 0.9), table: table)
        let moved = try llm.negativeLogLikelihood(ids, window: 4, batched: true, reference: reference)
        #expect((moved.kl ?? 0) > 1e-4)
        #expect(throws: ActSparseError.self) {  // a reference of other ids is refused
            try llm.negativeLogLikelihood(Array(ids.prefix(4)), window: 4, batched: true, reference: reference)
        }
        try llm.setPlan(.dense(layers: llm.config.layers), table: nil)
        // The flag does not leak into serving: a later plain prefill ignores the thresholds again.
        #expect(!llm.model!.thresholdPrefill && llm.mlps.allSatisfy { !$0.thresholdPrefill })
    }
}
