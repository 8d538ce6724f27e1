import ActSparse
import ActSparseCalibration
import ActSparseDistributed
import ActSparseTestSupport
import Foundation
import Testing

/// The core library alone runs the model sparse in one process (`LlamaModel` + `SparseMLP`, no communicator), and
/// computes what the distributed model computes on one rank, bit for bit.
@Suite("one process, no communicator")
struct OneProcessTests {
    func bits(_ p: UnsafeMutablePointer<Float>, _ n: Int) -> [UInt32] { UnsafeBufferPointer(start: p, count: n).map(\.bitPattern) }

    @Test("SparseMLP at thresholds 0 equals DenseMLP bit for bit: decode and prefill, 1 and 2 threads", arguments: [1, 2])
    func zeroIsDense(threads: Int) throws {
        let path = try TinyGGUF.write(TinyGGUF().bytes())
        defer { try? FileManager.default.removeItem(atPath: path) }
        let g = try GGUFFile(path: path)
        let c = try LlamaConfig(gguf: g)
        let sparse = try SparseMLP(gguf: g, layer: 1, config: c, threads: threads)
        let dense = try DenseMLP(gguf: g, layer: 1, config: c, threads: threads)
        let m = 5
        var x = makeActivation(m * c.hidden, seed: 3)
        x[7] = 0  // an exact zero is skipped by the sparse path and changes nothing
        var a = [Float](repeating: .nan, count: m * c.hidden), b = a
        try sparse.decode(x, into: &a)
        try dense.decode(x, into: &b)
        #expect(a[0..<c.hidden].map(\.bitPattern) == b[0..<c.hidden].map(\.bitPattern))
        try sparse.prefill(x, m: m, into: &a)
        try dense.prefill(x, m: m, into: &b)
        // Prefill is a GEMM (another summation order than the row-by-row reference): close, not identical.
        let scale = b.map(abs).max() ?? 1
        #expect(zip(a, b).allSatisfy { abs($0 - $1) <= 1e-4 * scale }, "prefill differs from row-by-row decode")
        #expect(sparse.realizedSparsity.gateUp < 0.2)
    }

    @Test("LlamaModel with SparseMLPs equals DistributedLlama on one rank at 50 % model-wide: same logits bits, same realized sparsity",
          arguments: [DistributedMLP.Mode.gather, .reduce])
    func localEqualsOneRank(mode: DistributedMLP.Mode) throws {
        let path = try TinyGGUF.write(TinyGGUF().bytes())
        defer { try? FileManager.default.removeItem(atPath: path) }
        let llm = try DistributedLlama(comm: LocalCommunicator(), path: path, mode: mode, threads: 2, context: 16)
        let table = try SparsityBudgetTests().calibrate(llm)
        let plan = SparsityPlan.uniform(layers: llm.config.layers, gateUp: 0.5, down: 0.5, attention: 0.5)
        try llm.setPlan(plan, table: table)
        let local = try LlamaModel(gguf: try GGUFFile(path: path), threads: 2, context: 16)
        try local.setThresholds(try table.thresholds(plan))
        let n = local.config.vocab
        #expect(bits(try llm.prefill([4, 99, 250]), n) == bits(try local.prefill([4, 99, 250]), n))
        for t: Int32 in [7, 120, 33, 201] {
            #expect(bits(try llm.decode(t), n) == bits(try local.decode(t), n), "token \(t)")
        }
        let mlps = local.mlps.compactMap { $0 as? SparseMLP }
        #expect(mlps.count == local.config.layers)
        let realized = mlps.map(\.realizedSparsity.gateUp).reduce(0, +) / Double(mlps.count)
        #expect(abs(realized - llm.realizedSparsity.gateUp) < 1e-12 && realized > 0.2, "\(realized)")
    }

    @Test("the README's Swift example runs: load, thresholds from a table, prefill, greedy tokens")
    func readmeExample() throws {
        let path = try TinyGGUF.write(TinyGGUF().bytes())
        defer { try? FileManager.default.removeItem(atPath: path) }
        let table = try SparsityBudgetTests().calibrate(
            try DistributedLlama(comm: LocalCommunicator(), path: path, mode: .gather, threads: 1, context: 16))
        let tablePath = path + ".thresholds.json"
        try table.save(tablePath)
        defer { try? FileManager.default.removeItem(atPath: tablePath) }

        let file = try GGUFFile(path: path)
        let model = try LlamaModel(gguf: file, threads: 2)
        let loaded = try ThresholdTable.load(tablePath)
        try model.setThresholds(try loaded.thresholds(.uniform(layers: model.config.layers, gateUp: 0.5, down: 0.5)))
        var sampler = Sampler(temperature: 0)
        var token = try sampler.sample(try model.prefill(model.tokenizer.encode("the the")), count: model.config.vocab)
        for _ in 0..<3 { token = try sampler.sample(try model.decode(token), count: model.config.vocab) }
        #expect(token >= 0 && Int(token) < model.config.vocab)
        #expect(model.position == model.tokenizer.encode("the the").count + 3)
        // A dense MLP takes no MLP threshold.
        let c = model.config
        let dense = try LlamaModel(gguf: file, threads: 1, context: 16) { try DenseMLP(gguf: file, layer: $0, config: c, threads: 1) }
        #expect(throws: ActSparseError.self) {
            try dense.setThresholds(try loaded.thresholds(.uniform(layers: c.layers, gateUp: 0.5, down: 0.5)))
        }
    }
}
