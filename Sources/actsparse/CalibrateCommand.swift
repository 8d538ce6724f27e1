import ActSparse
import ActSparseMPI
import ArgumentParser
import Foundation

struct CalibrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calibrate",
        abstract: "Per-layer thresholds of every linear input, their measured costs, and a quality budget.",
        discussion: """
            1. Runs the text (less its held-out end) through the dense model in chunks and collects |x| of every
               thresholded input per layer: the attention input (q/k/v), the attention output (o), the MLP input
               (gate/up) and the gated activation (down), leaving out each chunk's first position (its massive
               activations). Thresholds for targets 0, 0.05 … 0.95.
            2. Measures each input's output error at every target on --probe-tokens of it (one dense GEMM per
               target and FC): what `eval --report` uses to split a kind's level among the layers.
            3. On the held-out end (--held-out tokens, thresholded prefill, one scoring ≈ one prefill): the dense
               NLL and predictions; uniform plans at byte sparsities 10 … 70 %; the greedy path (from dense, raise
               by 10 points the input kind whose step costs the least measured loss per byte saved) over every
               linear input and over the MLP's two (refined around --max-delta-nll). The loss of a plan is the
               larger of its ΔNLL and its mean KL divergence from the dense predictions (ΔNLL on a few hundred
               tokens is noisy; KL is not). `generate --budget X` takes the highest byte sparsity within X.
            Writes a JSON file that `generate` and `eval` read. Runs as one process.
            """)

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var threadOptions: ThreadOptions
    @Option(help: "Calibration text file.") var text: String
    @Option(help: "Output JSON (default: the cached thresholds file for the model).") var out: String?
    @Option(help: "Calibration tokens at most (held-out end included).") var tokens = 2048
    @Option(help: "Tokens per chunk (each chunk starts a new sequence).") var chunk = 128
    @Option(help: ArgumentHelp("Tokens of the calibration part whose output errors are measured (0: none; only "
        + "`eval --report`'s per-layer split uses them)."))
    var probeTokens = 128
    @Option(help: ArgumentHelp("Tokens at the end of the text kept out of steps 1–2 and scored for ΔNLL (0: no "
        + "budget points; default: 256, at most a quarter of the tokens)."))
    var heldOut: Int?
    @Option(help: "Quality budget in nats/token: refine the path around it and record the byte sparsity it allows.")
    var maxDeltaNll: Double?

    func run() throws {
        try withWorld { comm in
            try agreeOnConfiguration(comm) {
                if comm.size > 1 { return "calibrate runs as one process: start it without mpirun" }
                if chunk < 2 || tokens < chunk { return "--chunk must be ≥ 2 and ≤ --tokens" }
                if probeTokens < 0 || (heldOut ?? 0) < 0 { return "--probe-tokens and --held-out must be ≥ 0" }
                if heldOut == 1 { return "--held-out must be 0 or ≥ 2" }
                if let x = maxDeltaNll, !(x >= 0 && x.isFinite) { return "--max-delta-nll must be ≥ 0, found \(x)" }
                if maxDeltaNll != nil && heldOut == 0 { return "--max-delta-nll needs --held-out > 0" }
                guard FileManager.default.fileExists(atPath: text) else { return "\(text): no such calibration text" }
                return modelOptions.problem()
            }
            let llm = try DistributedLlama(comm: comm, path: modelOptions.model, mode: .gather,
                                           threads: threadOptions.resolved, context: max(chunk, 16))
            try calibrate(llm, model: llm.model!)
            try llm.stop()
        }
    }

    func calibrate(_ llm: DistributedLlama, model: LlamaModel) throws {
        let c = llm.config
        let t0 = Timing.now()
        let ids = Array(model.tokenizer.encode(try readText(text)).prefix(tokens))
        let heldCount = heldOut ?? min(256, ids.count / 4)
        let held = heldCount >= 2 ? Array(ids.suffix(heldCount)) : []
        let cal = Array(ids.dropLast(held.count))
        guard cal.count >= chunk else {
            throw ValidationError("\(text): \(ids.count) tokens, need --chunk \(chunk) beyond the \(held.count) held out")
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
        try runChunks(llm, model, cal, starts: starts, label: "calibrating: quantiles")
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
            try runChunks(llm, model, cal, starts: Array(starts.prefix(n)), label: "calibrating: output errors")
            if let failure { throw failure }
            table.outputError = probe.relativeError
        }
        model.capture = nil
        for mlp in llm.mlps { mlp.capture = nil }

        // 3. ΔNLL on the held-out end.
        if held.count >= 2 && table.canAllocate { try measureHeldOut(llm, &table, held) }

        let path = out ?? ModelCache.defaultThresholds(for: modelOptions.model)
        try FileManager.default.createDirectory(
            atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path, withIntermediateDirectories: true)
        try table.save(path)
        print("calibrated \(c.layers) layers × 4 inputs on \(table.calibrationTokens) tokens in "
            + "\(f(Double(Timing.now() - t0) * 1e-9, 1)) s → \(path)")
        if let h = table.heldOut {
            print("held-out ΔNLL and KL from dense (\(h.tokens) tokens, dense NLL \(f(h.denseNLL, 4))); "
                + "levels attention/output/gate-up/down:")
            for (name, path) in [("uniform", h.uniform), ("allocated", h.allocated), ("allocated, MLP only", h.allocatedMLP)] {
                print("  \(name):")
                for p in path {
                    print("    \(pctString(p.byteSparsity)) of FC bytes  ΔNLL \(signed(p.deltaNLL))  KL "
                        + (p.kl.map { f($0, 3) } ?? "-") + "   " + p.levels.map { f($0, 2) }.joined(separator: "/"))
                }
            }
        }
        if let b = table.budget {
            print("budget ≤ +\(f(b.maxDeltaNLL, 2)) nats: \(pctString(b.byteSparsity)) of FC bytes "
                + "(loss \(signed(b.deltaNLL)), the larger of ΔNLL and KL; \(f(Double(b.bytesSavedPerToken) / 1e6, 1)) "
                + "MB/token saved)")
        }
    }

    /// Prefills each chunk as a new sequence (the capture hooks see every layer's inputs).
    func runChunks(_ llm: DistributedLlama, _ model: LlamaModel, _ ids: [Int32], starts: [Int], label: String) throws {
        let progress = Progress(label, total: starts.count, unit: .items("chunks of \(chunk) tokens"))
        for start in starts {
            model.reset()
            try llm.prefill(Array(ids[start..<(start + chunk)]))
            progress.advance(1)
        }
        progress.finish()
    }

    func measureHeldOut(_ llm: DistributedLlama, _ table: inout ThresholdTable, _ held: [Int32]) throws {
        let L = table.layers
        let budget = maxDeltaNll
        let uniformPath = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]
        let stopAt = max(1.0, 3 * (budget ?? 0))
        // Scorings: dense, the uniform path, the two greedy paths (≤ 4 and 2 per step), the budget's bisection.
        let progress = Progress("calibrating: held-out ΔNLL", total: 1 + uniformPath.count + 4 * 9 + 2 * 9 + 3,
                                unit: .items("scorings of \(held.count - 1) tokens"))
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
        func greedy(_ kinds: [SparsitySite]) throws -> [ThresholdTable.Point] {
            try table.greedyPath(kinds: kinds, maxByteSparsity: 0.8, stopAt: stopAt, measure: measure)
        }
        var allocated = try greedy(SparsitySite.allCases)
        let allocatedMLP = try greedy([.gateUp, .down])
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

func pctString(_ v: Double) -> String { String(format: "%.1f %%", v * 100) }
func signed(_ v: Double) -> String { String(format: "%+.3f", v) }
