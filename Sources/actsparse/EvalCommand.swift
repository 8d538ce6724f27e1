import ActSparse
import ActSparseCalibration
import ActSparseDistributed
import ActSparseTools
import ArgumentParser
import Foundation

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "NLL / perplexity of a held-out text, dense vs sparse, and an accuracy/speed report.",
        discussion: """
            Every position runs the decode path (sparse where the thresholds say), in windows of --window tokens.
            Without --report: uniform MLP sparsity at each --sparsity target, per-layer realized sparsity in --csv.
            With --report DIR: at each byte-weighted sparsity of --points (over the bytes of every linear layer but
            the LM head), uniform vs allocated thresholds (the calibrated greedy path; model-wide also split per
            layer by output error), MLP-only vs model-wide, and the plans of the quality budgets in --budgets; ΔNLL and the measured decode speed-up against dense in the same run →
            DIR/sparsity-report.csv and DIR/sparsity-report.svg (a Pareto curve to pick a budget from). Speed is \
            the median of --repeats interleaved runs, with its range.
            """)

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var threadOptions: ThreadOptions
    @OptionGroup var commOptions: CommOptions
    @Option(help: "Evaluation text file.") var text: String
    @Option(help: "Target sparsities (comma list; both MLP inputs).") var sparsity: CommaList<Double> = [0.25, 0.4, 0.5, 0.6]
    @Option(help: "Down-input target as a multiple of the gate/up one (e.g. 1.0 both equal).") var downRatio = 1.0
    @Option(help: SparsityScope.help) var scope: SparsityScope = .mlp
    @Option(help: "Thresholds file (default: the cached one for the model).") var thresholds: String?
    @Option(help: "Tokens of the text to score.") var tokens = 384
    @Option(help: "Tokens per scoring window (each starts a new sequence).") var window = 512
    @Option(help: "Write per-layer results as CSV here.") var csv: String?
    @Flag(help: ArgumentHelp("Score each window with one prefill (the batched GEMM path, thresholded alike; one rank) "
        + "instead of token by token: the prompt path's accuracy, e.g. of --activations int8 there."))
    var prefill = false
    @Option(help: "Write the accuracy/speed report (CSV and SVG) into this directory.") var report: String?
    @Option(help: "Runs of every variant for the report's speed (median and range; the NLL is the same every run).")
    var repeats = 3
    @Option(help: ArgumentHelp("Free-running check of the report: greedy tokens generated after each of "
        + "--free-run-prompts openings of the text, by every variant and dense (repetition, first divergence; 0: none)."))
    var freeRunTokens = 48
    @Option(help: "Openings of the text (32 tokens each, evenly spread) the free-running check continues.")
    var freeRunPrompts = 8
    @Option(help: "Byte-weighted sparsities of the report (comma list).") var points: CommaList<Double> = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
    @Option(help: "Quality budgets of the report, nats (comma list; needs a calibrated held-out path).")
    var budgets: CommaList<Double> = [0.05, 0.1, 0.2, 0.5]

    /// What every rank must share: the model settings and the measurement grid (every rank scores every window).
    var settings: JobSettings {
        var s = JobSettings(command: "eval")
        s.add(modelOptions)
        s.add("--sparsity", sparsity.values.map { "\($0)" }.joined(separator: ","))
        s.add("--down-ratio", downRatio); s.add("--scope", scope.rawValue); s.add("--tokens", tokens)
        s.add("--window", window); s.add("--prefill", prefill); s.add("--report", report != nil)
        s.add("--free-run-tokens", freeRunTokens); s.add("--free-run-prompts", freeRunPrompts)
        s.add("--points", points.values.map { "\($0)" }.joined(separator: ","))
        s.add("--budgets", budgets.values.map { "\($0)" }.joined(separator: ","))
        s.add("--repeats", repeats)
        s.addThresholds(thresholds ?? ModelCache.defaultThresholds(for: modelOptions.model))
        return s
    }

    func run() throws {
        try withWorld(commOptions, settings: settings) { comm in
            var targets: [Double] = [], goals: [Double] = [], budgetList: [Double] = []
            try agreeOnConfiguration(comm) {
                let t = sparsity.values
                guard t.allSatisfy({ (0..<1).contains($0) })
                else { return "--sparsity: comma list of values in 0..<1" }
                targets = t
                let p = points.values
                guard p.allSatisfy({ $0 > 0 && $0 < 1 })
                else { return "--points: comma list of values in (0, 1)" }
                goals = p
                let b = budgets.values
                guard b.allSatisfy({ $0 >= 0 && $0.isFinite })
                else { return "--budgets: comma list of values ≥ 0" }
                budgetList = b
                if let p = outside("--tokens", tokens, 2...(1 << 24)) ?? outside("--window", window, 2...(1 << 20))
                    ?? outside("--repeats", repeats, 1...100) ?? outside("--free-run-tokens", freeRunTokens, 0...4096)
                    ?? outside("--free-run-prompts", freeRunPrompts, 1...256) { return p }
                if !(downRatio > 0 && downRatio.isFinite) { return "--down-ratio must be > 0, found \(downRatio)" }
                guard FileManager.default.fileExists(atPath: text) else { return "\(text): no such evaluation text" }
                return commOptions.problem() ?? modelOptions.problem()
            }
            let llm = try DistributedLlama(comm: comm, path: modelOptions.model, mode: modelOptions.mode, scope: modelOptions.shard,
                                           threads: threadOptions.resolved, context: min(window, tokens + 1),
                                           kv: modelOptions.kv, activations: modelOptions.activations, stepTimeout: commOptions.resolved, progress: TerminalProgress.handler)
            guard let model = llm.model else { return try llm.follow() }
            let path = thresholds ?? ModelCache.defaultThresholds(for: modelOptions.model)
            let table = try SparsityOptions.parse(["--thresholds", path])
                .table(model: modelOptions.model, config: llm.config, bytes: llm.gguf.size)
            let ids = Array(model.tokenizer.encode(try readText(text)).prefix(tokens + 1))
            guard ids.count > 2 else { throw ValidationError("\(text) has too few tokens") }
            if let report, let table {
                try writeReport(llm, table: table, path: path, ids: ids, goals: goals, budgets: budgetList, dir: report)
            } else {
                try uniformTable(llm, table: table, ids: ids, targets: targets)
            }
            try llm.stop()  // only on success: after a failure withWorld aborts the job
        }
    }

    /// The classic table: both MLP inputs at each target, per-layer realized sparsity to --csv.
    func uniformTable(_ llm: DistributedLlama, table: ThresholdTable?, ids: [Int32], targets: [Double]) throws {
        var rows: [String] = ["target,layer,realized_gate_up,realized_down,nll,ppl,delta_nll"]
        var denseNLL = 0.0
        print("target   NLL (nats/token)  PPL      ΔNLL     realized gate/up  down   tokens/s" + (scope == .model ? "  attention output" : ""))
        for target in [0.0] + targets {
            let plan = scope.plan(layers: llm.config.layers, gateUp: target, down: min(0.99, target * downRatio),
                                  attention: target)
            try llm.setPlan(plan, table: target == 0 ? nil : table)
            llm.resetStats()
            let r = try llm.negativeLogLikelihood(ids, window: window, batched: prefill)
            if target == 0 { denseNLL = r.nll }
            let (sGU, sD) = llm.realizedSparsity
            print(String(format: "%-8@ %16.4f  %-8.3f %+7.4f  %16.3f  %5.3f  %8.1f", target == 0 ? "dense" : f(target, 2),
                         r.nll, exp(r.nll), r.nll - denseNLL, sGU, sD, Double(r.scored) / r.seconds)
                  + (scope == .model ? String(format: "  %9.3f %6.3f", llm.realizedSiteSparsity[0], llm.realizedSiteSparsity[1]) : ""))
            for (l, mlp) in llm.mlps.enumerated() {
                let (g, d) = mlp.realizedSparsity
                rows.append("\(target),\(l),\(f(g, 4)),\(f(d, 4)),\(f(r.nll, 5)),\(f(exp(r.nll), 4)),\(f(r.nll - denseNLL, 5))")
            }
        }
        print("(\(ids.count - 1) tokens of \(text); per-layer realized sparsity in --csv)")
        if let csv { try rows.joined(separator: "\n").appending("\n").write(toFile: csv, atomically: true, encoding: .utf8) }
    }

    /// Uniform vs allocated, MLP-only vs model-wide, at each byte sparsity; then the budgets' plans.
    func writeReport(_ llm: DistributedLlama, table: ThresholdTable, path: String, ids: [Int32], goals: [Double],
                     budgets: [Double], dir: String) throws {
        guard let bytes = table.siteBytes, table.canAllocate else {
            throw ActSparseError.file(path: path, problem: "--report needs per-site measurements: run `actsparse calibrate` again")
        }
        var variants: [(name: String, goal: Double?, plan: SparsityPlan)] = []
        for b in goals {
            for wide in [false, true] {
                let scope = wide ? "model-wide" : "MLP only"
                variants.append(("uniform, \(scope)", b, try table.uniform(byteSparsity: b, modelWide: wide, path: path)))
                variants.append(("allocated, \(scope)", b, try table.allocate(byteSparsity: b, modelWide: wide, path: path)))
                if wide {
                    variants.append(("allocated per layer, \(scope)", b,
                                     try table.allocate(byteSparsity: b, modelWide: wide, perLayer: true, path: path)))
                }
            }
        }
        if table.heldOut != nil {
            for x in budgets { variants.append(("budget +\(f(x, 2))", nil, try table.plan(budget: x, path: path))) }
        }
        let total = bytes.joined().reduce(0.0) { $0 + Double($1) }
        let progress = Progress("evaluating", total: repeats * (variants.count + 1) * (ids.count - 1),
                                unit: .items("tokens scored"), handler: TerminalProgress.handler)
        typealias Score = (nll: Double, tps: Double, realized: [Double], speedups: [Double])
        func score(_ plan: SparsityPlan) throws -> (nll: Double, tps: Double, realized: [Double]) {
            try llm.setPlan(plan, table: table, path: path)
            llm.resetStats()
            let r = try llm.negativeLogLikelihood(ids, window: window, batched: prefill) { progress.advance(1) }
            return (r.nll, Double(r.scored) / max(r.seconds, 1e-9), llm.realizedSiteSparsity)
        }
        // Interleaved rounds (dense, then every variant), each variant's speed-up against its round's dense run:
        // a machine that drifts moves both. Medians and ranges over the rounds.
        var denseRuns: [(nll: Double, tps: Double, realized: [Double])] = []
        var runs = [[(nll: Double, tps: Double, realized: [Double])]](repeating: [], count: variants.count)
        for _ in 0..<repeats {
            denseRuns.append(try score(.dense(layers: table.layers)))
            for (k, v) in variants.enumerated() { runs[k].append(try score(v.plan)) }
        }
        progress.finish()
        // Free-running text: dense and every variant continue the same openings (spread over the text) greedily.
        let n = freeRunPrompts
        let openings = freeRunTokens > 0 ? (0..<n).map { k in Array(ids[(k * ids.count / n)...].prefix(32)) }.filter { $0.count >= 2 } : []
        try llm.setPlan(.dense(layers: table.layers), table: table)
        let denseRuns0 = try llm.greedyContinuations(openings, tokens: freeRunTokens)
        let denseText = Repetition(texts: denseRuns0)
        let texts = try variants.map { v -> Repetition in
            try llm.setPlan(v.plan, table: table, path: path)
            return Repetition(texts: try llm.greedyContinuations(openings, tokens: freeRunTokens), reference: denseRuns0)
        }
        let dense: Score = (denseRuns[0].nll, median(denseRuns.map(\.tps)), denseRuns[0].realized, [1])
        var rows: [(String, Double?, SparsityPlan, Score)] = []
        for (k, v) in variants.enumerated() {
            let speedups = zip(runs[k], denseRuns).map { $0.tps / max($1.tps, 1e-9) }
            rows.append((v.name, v.goal, v.plan, (runs[k][0].nll, median(runs[k].map(\.tps)), runs[k][0].realized, speedups)))
        }
        let denseTPS = dense.tps

        var lines = [["variant", "goal_byte_sparsity", "byte_sparsity", "realized_byte_sparsity", "attention", "output",
                      "gate_up", "down", "realized_attention", "realized_output", "realized_gate_up", "realized_down",
                      "nll", "delta_nll", "tokens_per_s", "speedup", "speedup_min", "speedup_max", "repeats",
                      "distinct2", "distinct3", "longest_repeat", "first_divergence", "degenerates", "prompts_worse", "prompts_better"]]
        let ds = denseText.summary
        lines.append(["dense", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", f(dense.nll, 5), "0", f(denseTPS, 2),
                      "1", "1", "1", "\(repeats)", f(ds.distinct2, 3), f(ds.distinct3, 3), "\(ds.longestRepeat)", "", "false", "0", "0"])
        func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
        print(pad("variant", 33) + "goal  bytes    realized  ΔNLL      tok/s   speed-up (range)     mean level attn/o/gu/down"
            + "   free-running: distinct-2, longest repeat, first divergence, prompts worse/better than dense")
        print(pad("dense", 33) + pad("-", 6) + pad("0 %", 9) + pad("0 %", 10) + String(format: "%+7.4f  %7.1f   %5.2f×", 0.0, denseTPS, 1.0)
            + String(repeating: " ", count: 41) + String(format: "%4.2f  %3d", ds.distinct2, ds.longestRepeat))
        for (k, (name, goal, plan, r)) in rows.enumerated() {
            let t = texts[k], ts = t.summary, c = t.compared(to: denseText), bad = t.degenerates(comparedTo: denseText)
            let mean = plan.layerMeans
            let planned = plan.byteSparsity(bytes: bytes)
            // Realized byte sparsity: each site's realized fraction weighted by its bytes (layer means).
            var realized = 0.0
            for l in 0..<table.layers { for s in 0..<4 { realized += Double(bytes[l][s]) * r.realized[s] } }
            realized /= max(total, 1)
            let s = median(r.speedups), lo = r.speedups.min() ?? s, hi = r.speedups.max() ?? s
            // Realized sparsity is counted by the decode path only: under --prefill there is none to report.
            let cells = [goal.map { f($0, 2) } ?? "", f(planned, 4), prefill ? "" : f(realized, 4)] + mean.map { f($0, 4) }
                + r.realized.map { prefill ? "" : f($0, 4) } + [f(r.nll, 5), f(r.nll - dense.nll, 5), f(r.tps, 2), f(s, 3), f(lo, 3),
                                                 f(hi, 3), "\(repeats)", f(ts.distinct2, 3), f(ts.distinct3, 3),
                                                 "\(ts.longestRepeat)", f(ts.firstDivergence ?? 0, 1), "\(bad)", "\(c.worse)", "\(c.better)"]
            lines.append([name] + cells)  // names hold commas ("uniform, MLP only"): quoted by CSV
            print(pad(name, 33) + pad(goal.map { f($0, 2) } ?? "-", 6) + pad(pctString(planned), 9)
                + pad(prefill ? "n/a" : pctString(realized), 10) + String(format: "%+7.4f  %7.1f   %5.2f× (%4.2f–%4.2f)  ", r.nll - dense.nll,
                                                       r.tps, s, lo, hi) + mean.map { f($0, 2) }.joined(separator: "/")
                + String(format: "   %4.2f  %3d  %5.1f  %d/%d", ts.distinct2, ts.longestRepeat, ts.firstDivergence ?? 0, c.worse, c.better)
                + (bad ? "  degenerates" : ""))
        }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let csvPath = dir + "/sparsity-report.csv", svg = dir + "/sparsity-report.svg"
        try CSV.document(lines).write(toFile: csvPath, atomically: true, encoding: .utf8)
        let points = rows.map { r -> SparsityReportPlot.Point in
            let s = median(r.3.speedups)
            return .init(name: r.0, byteSparsity: r.2.byteSparsity(bytes: bytes), deltaNLL: r.3.nll - dense.nll, speedup: s,
                         speedupRange: ((r.3.speedups.min() ?? s), (r.3.speedups.max() ?? s)))
        }
        let title = "\(llm.config.name): ΔNLL and decode speed-up vs byte sparsity (\(ids.count - 1) tokens, "
            + "speed: median of \(repeats))"
        try SparsityReportPlot.writeSVG(points, title: title, to: svg)
        let d = denseRuns.map(\.tps)
        print("(free-running: \(openings.count) openings × \(freeRunTokens) greedy tokens; \"degenerates\": more repetitive than dense on more prompts than the other way round, or mean distinct-2 > \(Repetition.meanDistinctSlack) below)")
        print("(\(ids.count - 1) tokens of \(text), windows of \(window); dense NLL \(f(dense.nll, 4)), dense "
            + "\(f(d.min() ?? 0, 1))–\(f(d.max() ?? 0, 1)) tok/s over \(repeats) runs) → \(csvPath), \(svg)")
    }
}
