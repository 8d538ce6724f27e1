import ActSparse
import ActSparseDistributed
import Foundation

extension Generator {
    /// Which sparsity a loaded generator decodes with.
    public enum Sparsity: Sendable, Equatable {
        case dense
        /// The highest calibrated model-wide sparsity whose held-out ΔNLL stays within this many nats/token
        /// (needs the thresholds file `actsparse calibrate` writes).
        case budget(Double)
        /// The same sparsity for both MLP inputs of every layer (needs a thresholds file).
        case uniformMLP(Double)
    }

    public struct Options: Sendable {
        /// Worker threads (nil: the cores this process may use).
        public var threads: Int?
        public var context = 2048
        public var kv: KVCache.Precision = .f16
        public var activations: ActivationPrecision = .int8
        public var sparsity: Sparsity = .budget(0.1)
        /// Thresholds file (nil: the one `actsparse calibrate` caches for the model).
        public var thresholds: String?
        public var queueLimit = 16

        public init(threads: Int? = nil, context: Int = 2048, sparsity: Sparsity = .budget(0.1),
                    thresholds: String? = nil) {
            self.threads = threads
            self.context = context
            self.sparsity = sparsity
            self.thresholds = thresholds
        }
    }

    /// Loads a model in this process (a GGUF path, or a catalog name such as `smollm2`, fetched once) and starts
    /// a thread that serves `generate` requests. `log` hears of a fetch before it starts (the library prints nothing).
    public static func load(model: String, options o: Options = Options(),
                            log: @escaping (String) -> Void = { _ in }) throws -> Generator {
        let path = try ModelCatalog.entry(named: model).map { try ModelCatalog.ensure($0, log: log) } ?? model
        let llm = try DistributedLlama(comm: LocalCommunicator(), path: path, mode: .reduce,
                                       threads: o.threads ?? Parallel.availableCores, context: o.context, kv: o.kv,
                                       activations: o.activations)
        let layers = llm.config.layers
        let thresholds = o.thresholds ?? ModelCatalog.thresholds(for: path)
        var table: ThresholdTable?
        if o.sparsity != .dense {
            guard FileManager.default.fileExists(atPath: thresholds) else {
                throw ActSparseError.file(path: thresholds, problem: "no thresholds: run `actsparse calibrate --model "
                    + "\(model)` (or load with sparsity .dense)")
            }
            let t = try ThresholdTable.load(thresholds)
            try t.check(against: llm.config, modelBytes: llm.gguf.size, path: thresholds)
            table = t
        }
        let plan: SparsityPlan
        switch o.sparsity {
        case .dense: plan = .dense(layers: layers)
        case .uniformMLP(let s): plan = .uniform(layers: layers, gateUp: s, down: s)
        case .budget(let b):
            guard let table, table.heldOut != nil else {
                throw ActSparseError.file(path: thresholds, problem: "no budget measurements: run `actsparse calibrate` again")
            }
            plan = try table.plan(budget: b, path: thresholds)
        }
        let g = try Generator(llm: llm, name: ModelCatalog.displayName(path), plan: plan, table: table,
                              thresholdsPath: thresholds, queueLimit: o.queueLimit)
        let t = Thread { try? g.serveQueue() }
        t.stackSize = 8 << 20
        t.name = "actsparse-generator"
        t.start()
        return g
    }
}
