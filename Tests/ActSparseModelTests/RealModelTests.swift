import ActSparse
import ActSparseCalibration
import ActSparseDistributed
import ActSparseTestSupport
import Foundation
import Testing

@Suite("SmolLM2 end to end", .serialized)
struct RealModelTests {
    @Test("greedy continuation of \"The capital of France is\" names Paris (dense and 50 % sparse)", Requires.model)
    func paris() throws {
        let path = try #require(RealModel.path)
        let llm = try DistributedLlama(comm: LocalCommunicator(), path: path, mode: .gather, threads: 2, context: 64)
        let model = llm.model!
        // Thresholds from a short calibration of this very model.
        let cal = ThresholdCalibrator(layers: llm.config.layers)
        for (l, mlp) in llm.mlps.enumerated() {
            mlp.capture = { x, a, m in
                cal.add(layer: l, x: x, a: a, m: m, hidden: llm.config.hidden, intermediate: llm.config.intermediate, skip: 1)
            }
        }
        let text = try String(contentsOfFile: RealModel.calibration, encoding: .utf8)
        try llm.prefill(Array(model.tokenizer.encode(text).prefix(64)))
        for mlp in llm.mlps { mlp.capture = nil }
        let table = cal.table(config: llm.config, modelBytes: llm.gguf.size)
        for sparsity in [0.0, 0.5] {
            model.reset()
            try llm.setThresholds(sparsity == 0 ? nil : table, gateUp: sparsity, down: sparsity)
            var logits = try llm.prefill(model.tokenizer.encode("The capital of France is"))
            var out: [Int32] = []
            var sampler = Sampler()
            for _ in 0..<6 {
                let t = try sampler.sample(logits, count: llm.config.vocab)
                out.append(t)
                logits = try llm.decode(t)
            }
            let text = model.tokenizer.decode(out)
            #expect(text.contains("Paris"), "sparsity \(sparsity): \"\(text)\"")
        }
    }

    @Test("calibrate measures a held-out path and a budget; generate --budget runs its plan and says which",
          Requires.model)
    func qualityBudget() throws {
        let path = try #require(RealModel.path)
        let thresholds = FileManager.default.temporaryDirectory.appendingPathComponent("b-\(UUID()).json").path
        defer { try? FileManager.default.removeItem(atPath: thresholds) }
        let cal = try MPILaunch.run(["calibrate", "--model", path, "--text", RealModel.calibration, "--tokens", "448",
                                     "--chunk", "64", "--probe-tokens", "64", "--held-out", "64",
                                     "--max-delta-nll", "0.3", "--out", thresholds, "--threads", "2"], timeout: 600)
        #expect(cal.status == 0, "\(cal.err)")
        let t = try ThresholdTable.load(thresholds)
        let held = try #require(t.heldOut)
        #expect(t.modelWide && t.canAllocate && t.outputError != nil && held.tokens == 63)
        #expect(!held.uniform.isEmpty && !held.allocated.isEmpty && !held.allocatedMLP.isEmpty)
        #expect(held.allocatedMLP.allSatisfy { $0.levels[0] == 0 && $0.levels[1] == 0 })
        // More sparsity costs more on the held-out text (between the first step and the end of the path).
        #expect((held.uniform.last?.deltaNLL ?? 0) > (held.uniform.first?.deltaNLL ?? 0) + 0.05, "\(held.uniform)")
        let budget = try #require(t.budget)
        #expect(budget.maxDeltaNLL == 0.3 && budget.deltaNLL <= 0.3 && budget.byteSparsity > 0 && budget.bytesSavedPerToken > 0)
        let run = try MPILaunch.run(["generate", "--model", path, "--thresholds", thresholds, "--budget", "0.3",
                                     "--tokens", "8", "--no-dense-baseline", "--threads", "1"], timeout: 300)
        #expect(run.status == 0, "\(run.err)")
        #expect(run.err.contains("budget ≤ +0.30 nats") && run.err.contains("of FC bytes"), "\(run.err)")
        // --budget and --sparsity exclude each other: one message, exit 2.
        let both = try MPILaunch.run(["generate", "--model", path, "--thresholds", thresholds, "--budget", "0.3",
                                      "--sparsity", "0.5"], timeout: 120)
        #expect(both.status == 2 && both.err.contains("exclude each other"), "\(both.err)")
        // --scope model: the uniform target on every thresholded input, attention's included; the summary names
        // the kernels that ran.
        let wide = try MPILaunch.run(["generate", "--model", path, "--thresholds", thresholds, "--sparsity", "0.5",
                                      "--scope", "model", "--tokens", "8", "--no-dense-baseline", "--threads", "1"],
                                     timeout: 300)
        #expect(wide.status == 0, "\(wide.err)")
        #expect(wide.err.contains("50 % attention") && wide.err.contains("kernels: int8 activations on"), "\(wide.err)")
        let realized = wide.err.split(separator: "\n").first { $0.hasPrefix("target sparsity") }
            .flatMap { $0.components(separatedBy: "realized ").last }?.split(separator: "/").compactMap { Double($0) } ?? []
        #expect(realized.count == 4 && realized[0] > 0.2 && realized[0] < 0.8 && realized[1] > 0.2 && realized[1] < 0.8,
                "realized attention/output sparsity: \(realized)")
        let noTarget = try MPILaunch.run(["generate", "--model", path, "--thresholds", thresholds, "--scope", "model"],
                                         timeout: 120)
        #expect(noTarget.status == 2 && noTarget.err.contains("--scope model needs"), "\(noTarget.err)")
    }
}
