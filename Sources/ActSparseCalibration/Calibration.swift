import ActSparse
import ActSparseDistributed

/// Calibration of a model's thresholds from text, as a library (the `calibrate` command is one client):
/// 1. the text (less its held-out end) runs through the dense model in chunks; |x| of every thresholded input of
///    every layer goes into a quantile sketch, each chunk's first position left out (its massive activations);
/// 2. each input's output error at every target, on `probeTokens` of it (what a per-layer split uses);
/// 3. on the held-out end: the dense NLL and predictions, uniform plans at byte sparsities 10 … 70 %, the greedy
///    paths over every linear input and over the MLP's two, and the byte sparsity the budget `maxDeltaNLL` allows.
/// Runs on one process (`llm` on a 1-rank communicator); the model's capture hooks are set and cleared here.
public struct Calibration {
    public struct Options: Sendable {
        /// Calibration tokens at most (held-out end included).
        public var tokens = 2048
        /// Tokens per chunk (each chunk starts a new sequence).
        public var chunk = 128
        /// Tokens of the calibration part whose output errors are measured (0: none).
        public var probeTokens = 128
        /// Tokens at the end kept out of steps 1–2 and scored for ΔNLL (nil: 256, at most a quarter; 0: none).
        public var heldOut: Int?
        /// Quality budget in nats/token: refine the path around it and record the byte sparsity it allows.
        public var maxDeltaNLL: Double?

        public init(tokens: Int = 2048, chunk: Int = 128, probeTokens: Int = 128, heldOut: Int? = nil,
                    maxDeltaNLL: Double? = nil) {
            self.tokens = tokens; self.chunk = chunk; self.probeTokens = probeTokens; self.heldOut = heldOut
            self.maxDeltaNLL = maxDeltaNLL
        }

        /// Why these options cannot run (nil: they can), naming the option.
        public var problem: String? {
            if chunk < 2 || tokens < chunk { return "the chunk must be ≥ 2 tokens and ≤ the calibration tokens" }
            if probeTokens < 0 || (heldOut ?? 0) < 0 { return "probe and held-out tokens must be ≥ 0" }
            if heldOut == 1 { return "held-out tokens must be 0 or ≥ 2" }
            if let x = maxDeltaNLL, !(x >= 0 && x.isFinite) { return "the budget must be ≥ 0 nats, found \(x)" }
            if maxDeltaNLL != nil && heldOut == 0 { return "a budget needs held-out tokens" }
            return nil
        }
    }

    public let llm: DistributedLlama
    public let options: Options
    let progress: Progress.Handler?
    var tokens: Int { options.tokens }
    var chunk: Int { options.chunk }
    var probeTokens: Int { options.probeTokens }
    var heldOut: Int? { options.heldOut }
    var maxDeltaNLL: Double? { options.maxDeltaNLL }

    /// `llm` must be the driving rank of a 1-rank model (its context at least `options.chunk`).
    public init(_ llm: DistributedLlama, options: Options, progress: Progress.Handler? = nil) throws {
        if let p = options.problem { throw ActSparseError.invalidValue(what: "calibration options", expected: "valid", found: p) }
        guard llm.comm.size == 1, llm.model != nil else {
            throw ActSparseError.invalidValue(what: "calibration", expected: "one process", found: "\(llm.comm.size) ranks")
        }
        self.llm = llm
        self.options = options
        self.progress = progress
    }

    /// The thresholds table of `text` (`name` is how errors refer to it).
    public func run(text: String, name: String = "text") throws -> ThresholdTable {
        guard let model = llm.model else {
            throw ActSparseError.invalidValue(what: "calibration", expected: "rank 0", found: "rank \(llm.comm.rank)")
        }
        let c = llm.config
        let ids = Array(model.tokenizer.encode(text).prefix(tokens))
        let heldCount = heldOut ?? min(256, ids.count / 4)
        let held = heldCount >= 2 ? Array(ids.suffix(heldCount)) : []
        let cal = Array(ids.dropLast(held.count))
        guard cal.count >= chunk else {
            throw ActSparseError.invalidValue(what: "calibration text \(name)", expected: "at least one chunk of \(chunk) "
                + "tokens beyond the \(held.count) held out", found: "\(ids.count) tokens")
        }
        let starts = Array(stride(from: 0, to: cal.count - chunk + 1, by: chunk))

        // 1. Quantiles of every input.
        let calibrator = ThresholdCalibrator(layers: c.layers)
        func width(_ site: SparsitySite) -> Int {
            switch site {
            case .attention, .gateUp: c.hidden
            case .output: c.qDim
            case .down: c.intermediate
            }
        }
        model.capture = { l, site, x, m in calibrator.add(layer: l, site: site, x: x, m: m, width: width(site), skip: 1) }
        for (l, mlp) in llm.mlps.enumerated() {
            mlp.capture = { x, a, m in
                calibrator.add(layer: l, x: x, a: a, m: m, hidden: c.hidden, intermediate: c.intermediate, skip: 1)
            }
        }
        try runChunks(model, cal, starts: starts, label: "calibrating: quantiles")
        var table = calibrator.table(config: c, modelBytes: llm.gguf.size)
        table.siteBytes = (0..<c.layers).map { l in
            SparsitySite.allCases.map { s in (model.fcs(layer: l, site: s) + llm.mlps[l].fcs(for: s)).reduce(0) { $0 + $1.weights.bytes } }
        }

        // 2. Output error of every input at every target.
        if probeTokens > 0 {
            let probe = OutputErrorProbe(layers: c.layers, targets: table.targets)
            var failure: Error?
            func measure(_ l: Int, _ site: SparsitySite, _ x: UnsafePointer<Float>, _ m: Int) {
                guard failure == nil, let rows = table.rows(site) else { return }
                do {
                    try probe.add(layer: l, site: site, x: x, m: m, width: width(site), skip: 1,
                                  fcs: model.fcs(layer: l, site: site) + llm.mlps[l].fcs(for: site), thresholds: rows[l])
                } catch { failure = error }
            }
            model.capture = { l, site, x, m in measure(l, site, x, m) }
            for (l, mlp) in llm.mlps.enumerated() {
                mlp.capture = { x, a, m in measure(l, .gateUp, x, m); measure(l, .down, a, m) }
            }
            let n = max(1, min(starts.count, (probeTokens + chunk - 1) / chunk))
            try runChunks(model, cal, starts: Array(starts.prefix(n)), label: "calibrating: output errors")
            if let failure { throw failure }
            table.outputError = probe.relativeError
        }
        model.capture = nil
        for mlp in llm.mlps { mlp.capture = nil }

        // 3. ΔNLL on the held-out end.
        if held.count >= 2 && table.canAllocate { try measureHeldOut(&table, held) }
        return table
    }

    /// Prefills each chunk as a new sequence (the capture hooks see every layer's inputs).
    func runChunks(_ model: LlamaModel, _ ids: [Int32], starts: [Int], label: String) throws {
        let progress = Progress(label, total: starts.count, unit: .items("chunks of \(chunk) tokens"), handler: self.progress)
        for start in starts {
            model.reset()
            try llm.prefill(Array(ids[start..<(start + chunk)]))
            progress.advance(1)
        }
        progress.finish()
    }

    func measureHeldOut(_ table: inout ThresholdTable, _ held: [Int32]) throws {
        let L = table.layers
        let budget = maxDeltaNLL
        let uniformPath = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]
        let stopAt = max(1.0, 3 * (budget ?? 0))
        // Scorings: dense, the uniform path, the two greedy paths, the budget's bisection. The greedy paths' counts
        // are bounds, lowered before every step as the search learns where it stops.
        let all = SparsitySite.allCases, mlp: [SparsitySite] = [.gateUp, .down], maxBytes = 0.8
        let zero = [0.0, 0, 0, 0]
        let mlpBound = table.greedyMeasurements(kinds: mlp, from: zero, maxByteSparsity: maxBytes)
        let bisection = budget == nil ? 0 : 3
        let progress = Progress("calibrating: held-out ΔNLL", total: 1 + uniformPath.count
                                    + table.greedyMeasurements(kinds: all, from: zero, maxByteSparsity: maxBytes) + mlpBound + bisection,
                                unit: .items("scorings of \(held.count - 1) tokens"), handler: self.progress)
        // The dense predictions are kept ([held-out positions, vocab]) to measure each plan's KL from them.
        let reference = LogProbTable()
        try llm.setPlan(.dense(layers: L), table: table)
        let dense = try llm.negativeLogLikelihood(held, window: chunk, batched: true, record: reference).nll
        progress.advance(1)
        func measure(_ levels: [Double]) throws -> (deltaNLL: Double, kl: Double?) {
            try llm.setPlan(table.allocate(kindLevels: levels), table: table)
            defer { progress.advance(1) }
            let r = try llm.negativeLogLikelihood(held, window: chunk, batched: true, reference: reference)
            return (r.nll - dense, r.kl)
        }
        func point(_ levels: [Double]) throws -> ThresholdTable.Point {
            let m = try measure(levels)
            return .init(levels: levels, byteSparsity: table.byteSparsity(levels: levels), deltaNLL: m.deltaNLL, kl: m.kl)
        }
        var uniform: [ThresholdTable.Point] = []
        for b in uniformPath {
            let s = try table.uniform(byteSparsity: b, modelWide: true).sparsity[0][0]
            uniform.append(try point([s, s, s, s]))
            if let u = uniform.last, u.cost > stopAt { break }
        }
        progress.total = progress.done + table.greedyMeasurements(kinds: all, from: zero, maxByteSparsity: maxBytes)
            + mlpBound + bisection
        /// `after`: the bound of the work that follows this path.
        let bounds = table  // a copy the progress closure may keep (table is inout)
        func greedy(_ kinds: [SparsitySite], after: Int) throws -> [ThresholdTable.Point] {
            try table.greedyPath(kinds: kinds, maxByteSparsity: maxBytes, stopAt: stopAt, remaining: { levels in
                progress.total = progress.done + bounds.greedyMeasurements(kinds: kinds, from: levels, maxByteSparsity: maxBytes) + after
            }, measure: measure)
        }
        var allocated = try greedy(all, after: mlpBound + bisection)
        progress.total = progress.done + mlpBound + bisection
        let allocatedMLP = try greedy(mlp, after: bisection)
        progress.total = progress.done + bisection
        if let budget {
            // Bisect between the first allocated step over the budget and the one before it (levels in between).
            let over = allocated.firstIndex { $0.cost > budget }
            var lo = over.flatMap { $0 > 0 ? allocated[$0 - 1] : nil } ?? .init(levels: [0, 0, 0, 0], byteSparsity: 0, deltaNLL: 0)
            var hi = over.map { allocated[$0] }
            for _ in 0..<3 {
                guard let h = hi else { break }
                let mid = try point(zip(lo.levels, h.levels).map { ($0 + $1) / 2 })
                allocated.append(mid)
                if mid.cost <= budget { lo = mid } else { hi = mid }
            }
            allocated.sort { $0.byteSparsity < $1.byteSparsity }
        }
        progress.finish()
        table.heldOut = .init(tokens: held.count - 1, denseNLL: dense, uniform: uniform, allocated: allocated,
                              allocatedMLP: allocatedMLP)
        if let budget {
            let plan = try table.plan(budget: budget)
            let p = ThresholdTable.best(paths: [uniform, allocated, allocatedMLP], within: budget)
            table.budget = .init(maxDeltaNLL: budget, byteSparsity: p?.byteSparsity ?? 0, deltaNLL: p?.cost ?? 0,
                                 bytesSavedPerToken: table.bytesSaved(plan))
        }
    }
}
