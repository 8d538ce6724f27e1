import ActSparse
import ActSparseDistributed
import ActSparseGeneration
import ArgumentParser
import Foundation

/// Where the model and its calibration live by default: the catalog's cache (launch/run fills the same one).
enum ModelCache {
    static var defaultModel: String { ModelCatalog.defaultModel }
    static func defaultThresholds(for model: String) -> String { ModelCatalog.thresholds(for: model) }

    /// A --model argument as a path: a catalog name (`smollm2`, `gemma3-270m`) becomes its cache file, fetched
    /// once when missing — by a lone process only (ranks of one job would race on the cache; the job's rank 0
    /// then says how to fetch it).
    static func resolve(_ model: String) throws -> String {
        guard let entry = ModelCatalog.entry(named: model) else { return model }
        let path = ModelCatalog.path(of: entry)
        if FileManager.default.fileExists(atPath: path) || (World.launcherSize ?? 1) > 1 { return path }
        do {
            return try ModelCatalog.ensure(entry) { StandardError.write("actsparse: \($0)\n") }
        } catch {
            throw ValidationError("\(error)")
        }
    }

    /// Rank 0's line for a model file that is not there.
    static func missing(_ path: String) -> String? {
        guard !FileManager.default.fileExists(atPath: path) else { return nil }
        if let e = ModelCatalog.entry(at: path) {
            return "\(e.name) is not in the cache (\(path)): fetch it once with `actsparse fetch \(e.name)` "
                + "(one process; launch/run does it)"
        }
        return nil
    }
}

struct ModelOptions: ParsableArguments {
    @Option(help: ArgumentHelp("GGUF model file, or a name fetched once into the cache: smollm2 (SmolLM2-135M-Instruct, "
        + "the default unless ACTSPARSE_MODEL is set) or gemma3-270m (a base model).", valueName: "name|path"))
    var model: String = ModelCache.defaultModel
    @Option(help: ArgumentHelp("How blocks end across ranks: reduce (one all-reduce per block, the fastest measured; "
        + "sums in another order than one rank) or gather (all-gathers; logits bit-identical to one rank). "
        + "With --shard mlp: the MLP's one reduce, or the original protocol's gathers."))
    var mode: DistributedMLP.Mode = .reduce
    @Option(help: ArgumentHelp("What the ranks share: model (each rank holds 1/N of attention, KV cache, MLPs and LM head) "
        + "or mlp (only the MLPs are sharded; rank 0 runs the rest)."))
    var shard: DistributedLlama.Scope = .model
    @Option(help: "KV cache length (tokens).") var context = 2048
    @Option(help: "KV cache precision: f16 (llama.cpp's default), f32 (exact; twice the bytes) or q8_0 (8.5 bits).")
    var kv: KVCache.Precision = .f16
    @Option(help: ArgumentHelp("Activations the decode kernels multiply weight codes with: int8 (quantized per weight "
        + "group, integer dot products on AVX-512 VNNI, AVX-VNNI or AVX2, as llama.cpp does) or f32 (exact; sparse at "
        + "threshold 0 equals dense bit for bit). 8-bit and float weights use f32 either way."))
    var activations: ActivationPrecision = .int8

    mutating func validate() throws { model = try ModelCache.resolve(model) }

    /// Rank 0 opens the file once to report a bad path or header cleanly before any rank loads.
    func problem() -> String? {
        guard context >= 1 else { return "--context must be ≥ 1, found \(context)" }
        if let missing = ModelCache.missing(model) { return missing }
        do { _ = try LlamaConfig(gguf: try GGUFFile(path: model)) } catch { return "\(error)" }
        return nil
    }
}

struct SparsityOptions: ParsableArguments {
    @Option(help: "Uniform MLP sparsity for both inputs (0 = dense); replaces the quality budget.")
    var sparsity: Double?
    @Option(help: "Uniform sparsity of the gate/up input (default: --sparsity).") var sparsityGateUp: Double?
    @Option(help: "Uniform sparsity of the down input (default: --sparsity).") var sparsityDown: Double?
    @Option(help: SparsityScope.help) var scope: SparsityScope = .mlp
    @Option(help: ArgumentHelp("Quality budget in nats/token: the highest calibrated model-wide sparsity whose held-out "
        + "ΔNLL stays within it (default: the thresholds file's calibrated budget, else \(SparsityOptions.defaultBudget), "
        + "unless a --sparsity option is given)."))
    var budget: Double?
    @Option(help: "Thresholds file from `actsparse calibrate` (default: the cached one for the model).")
    var thresholds: String?

    static let defaultBudget = 0.1
    /// Without budget measurements (a thresholds file from before budgets), the uniform MLP sparsity used.
    static let fallbackSparsity = 0.4

    var uniform: Bool { sparsity != nil || sparsityGateUp != nil || sparsityDown != nil }
    /// Uniform MLP targets (soak, and generate when a --sparsity option is given).
    var gateUp: Double { sparsityGateUp ?? sparsity ?? 0.5 }
    var down: Double { sparsityDown ?? sparsity ?? 0.5 }
    var dense: Bool { uniform && gateUp == 0 && down == 0 && (scope == .mlp || (sparsity ?? 0) == 0) }

    func path(for model: String) -> String { thresholds ?? ModelCache.defaultThresholds(for: model) }

    /// The table for `model` (nil when dense), checked against it.
    /// `denseIfUncalibrated`: generate, chat and serve run dense (with a hint) rather than refuse.
    func table(model: String, config: LlamaConfig, bytes: Int, denseIfUncalibrated: Bool = false) throws -> ThresholdTable? {
        if dense && thresholds == nil { return nil }
        let p = path(for: model)
        // Nothing asked for and nothing calibrated yet: decode dense and say how to get the speed.
        if denseIfUncalibrated && notCalibrated(model) {
            StandardError.write("actsparse: \(URL(fileURLWithPath: model).lastPathComponent) is not calibrated yet: decoding "
                + "dense. For sparse decode calibrate it once (about a minute for SmolLM2): launch/run does, or `actsparse "
                + "calibrate --model \(model) --text launch/data/calibration`\n")
            return nil
        }
        guard FileManager.default.fileExists(atPath: p) else {
            throw ActSparseError.file(path: p, problem: "no thresholds: run `actsparse calibrate --model \(model)` " +
                                      "(launch/run does it once)")
        }
        let t = try ThresholdTable.load(p)
        try t.check(against: config, modelBytes: bytes, path: p)
        return t
    }

    /// What to run: the uniform MLP targets if given, else the quality budget's plan from the table (a table
    /// without budget measurements falls back to uniform `fallbackSparsity`, and the label says so).
    /// No sparsity option, no thresholds file named, and none in the cache for `model`.
    func notCalibrated(_ model: String) -> Bool {
        !uniform && budget == nil && thresholds == nil && !FileManager.default.fileExists(atPath: path(for: model))
    }

    func plan(table: ThresholdTable?, layers: Int, path: String) throws -> SparsityPlan {
        if table == nil && !uniform { return .dense(layers: layers) }
        if uniform || table == nil {
            return dense ? .dense(layers: layers)
                : scope.plan(layers: layers, gateUp: gateUp, down: down, attention: sparsity ?? max(gateUp, down))
        }
        guard let table else { return .dense(layers: layers) }
        // Default: the budget the file was calibrated for, whose plan the free-running check passed.
        let x = budget ?? table.budget?.maxDeltaNLL ?? SparsityOptions.defaultBudget
        guard table.heldOut != nil else {
            let s = SparsityOptions.fallbackSparsity
            return .uniform(layers: layers, gateUp: s, down: s, label: "uniform \(Int(s * 100)) % MLP (\(path) has no "
                + "budget measurements for --budget \(x): run `actsparse calibrate` again)")
        }
        return try table.plan(budget: x, path: path)
    }

    func problem() -> String? {
        for s in [sparsity, sparsityGateUp, sparsityDown].compactMap({ $0 }) where !(0..<1).contains(s) {
            return "sparsity \(s) not in 0..<1"
        }
        if let budget, !(budget >= 0 && budget.isFinite) { return "--budget must be ≥ 0, found \(budget)" }
        if budget != nil && uniform { return "--budget and --sparsity options exclude each other" }
        if scope == .model && !uniform { return "--scope model needs a uniform --sparsity (a budget's plan sets every site)" }
        return nil
    }
}


extension SparsityOptions {
    /// A generator over `llm` (rank 0) decoding with the plan these options give for `path` (dense, with a hint,
    /// while the model is not calibrated), and the thresholds table it uses.
    func generator(_ llm: DistributedLlama, model path: String, queueLimit: Int = 16) throws
        -> (generator: Generator, table: ThresholdTable?)
    {
        let table = try self.table(model: path, config: llm.config, bytes: llm.gguf.size, denseIfUncalibrated: true)
        let plan = try self.plan(table: table, layers: llm.config.layers, path: self.path(for: path))
        let g = try Generator(llm: llm, name: ModelCatalog.displayName(path), plan: plan, table: table,
                              thresholdsPath: self.path(for: path), queueLimit: queueLimit)
        return (g, table)
    }
}
