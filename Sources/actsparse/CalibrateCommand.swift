import ActSparse
import ActSparseCalibration
import ActSparseDistributed
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
            4. With --max-delta-nll: greedy free-running text of the plan the budget picks against dense, from 3
               openings per register; a plan more repetitive than dense (on more prompts than the reverse, or in mean
               distinct-2) is out of budget, and the next is checked.
            The text is read by register (a directory of *.txt files: prose, dialogue, code, lists, a chat), and a
            plan's loss is its worst register's. Prints a cost model (tokens and weight bytes, and a likely time and a
            bound once the second chunk has run). Writes a JSON file that `generate` and `eval` read.
            Under mpirun (whole-model shards, for a model one process cannot hold): each rank sketches its share of
            every input and probes its own slices, one reduce per step merges them on rank 0, and steps 3–4 run on
            the distributed forward: the same file as one process, within the sketches' and the sums' rounding.
            """)

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var threadOptions: ThreadOptions
    @OptionGroup var commOptions: CommOptions
    @Option(help: ArgumentHelp("Calibration text: a file (one register) or a directory of *.txt registers "
        + "(NAME.chat.txt: conversations in the model's chat template)."))
    var text: String
    @Option(help: "Output JSON (default: the cached thresholds file for the model).") var out: String?
    @Option(help: "Calibration tokens at most (held-out end included).") var tokens = 2048
    @Option(help: "Tokens per chunk (each chunk starts a new sequence).") var chunk = 128
    @Option(help: ArgumentHelp("Tokens of the calibration part whose output errors are measured (0: none; only "
        + "`eval --report`'s per-layer split uses them)."))
    var probeTokens = 128
    @Option(help: ArgumentHelp("Tokens at the end of the registers kept out of steps 1–2 and scored for ΔNLL, "
        + "split evenly among them (0: no budget points; default: 128 per register, at most a quarter of each)."))
    var heldOut: Int?
    @Option(help: "Quality budget in nats/token: refine the path around it and record the byte sparsity it allows.")
    var maxDeltaNll: Double?

    /// What every rank must share (the options decide which steps the ranks run together).
    var settings: JobSettings {
        var s = JobSettings(command: "calibrate")
        s.add(modelOptions)
        s.add("--tokens", tokens); s.add("--chunk", chunk); s.add("--probe-tokens", probeTokens)
        s.add("--held-out", heldOut); s.add("--max-delta-nll", maxDeltaNll)
        return s
    }

    func run() throws {
        try withWorld(commOptions, settings: settings) { comm in
            try agreeOnConfiguration(comm) {
                if comm.size > 1 && modelOptions.shard != .model {
                    return "calibrate on several ranks runs on whole-model shards: leave --shard at its default, model"
                }
                if let p = outside("--tokens", tokens, 2...(1 << 24)) ?? outside("--chunk", chunk, 2...tokens)
                    ?? outside("--probe-tokens", probeTokens, 0...tokens) ?? outside("--held-out", heldOut ?? 0, 0...tokens) {
                    return p
                }
                if heldOut == 1 { return "--held-out must be 0 or ≥ 2" }
                if let x = maxDeltaNll, !(x >= 0 && x.isFinite) { return "--max-delta-nll must be ≥ 0, found \(x)" }
                if maxDeltaNll != nil && heldOut == 0 { return "--max-delta-nll needs --held-out > 0" }
                guard !comm.isRoot || FileManager.default.fileExists(atPath: text) else { return "\(text): no such calibration text or directory" }
                return commOptions.problem() ?? modelOptions.problem()
            }
            // The activations decode uses (int8 by default): statistics and held-out scores from the integer GEMM,
            // the fast path on every instruction set, and the arithmetic the plans will run with.
            // Several ranks: whole-model shards (each rank sketches its share of every input; one reduce merges).
            let llm = try DistributedLlama(comm: comm, path: modelOptions.model, mode: .gather,
                                           scope: comm.size > 1 ? .model : .mlp,
                                           threads: threadOptions.resolved, context: max(chunk, 16),
                                           activations: modelOptions.activations, stepTimeout: commOptions.resolved,
                                           progress: TerminalProgress.handler)
            if !comm.isRoot {
                try Calibration(llm, options: options).follow()
                return
            }
            try calibrate(llm)
            if comm.size == 1 { try llm.stop() }  // several ranks: the calibration stops them after each step
        }
    }

    var options: Calibration.Options {
        Calibration.Options(tokens: tokens, chunk: chunk, probeTokens: probeTokens, heldOut: heldOut, maxDeltaNLL: maxDeltaNll)
    }

    func calibrate(_ llm: DistributedLlama) throws {
        let c = llm.config
        let t0 = Timing.now()
        let texts = try CalibrationText.load(text, read: readText)
        var calibration = try Calibration(llm, options: options, progress: TerminalProgress.handler)
        calibration.onEstimate = { cost in StandardError.write(cost.description + "\n") }
        let table = try calibration.run(texts: texts)
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
        if let h = table.heldOut, let regs = h.registers, let b = table.budget,
           let p = ThresholdTable.best(paths: h.paths, within: b.maxDeltaNLL), let losses = p.registers {
            print("budget's plan per register (loss, the larger of ΔNLL and KL; dense NLL):")
            for (r, loss) in zip(regs, losses) {
                print("    \(r.name.padding(toLength: 10, withPad: " ", startingAt: 0)) \(signed(loss))  (\(r.tokens) tokens, dense \(f(r.denseNLL, 3)))")
            }
        }
        if let h = table.heldOut, let dense = h.denseText {
            let d = dense.summary
            print("free-running check (\(dense.distinct2.count) prompts): dense distinct-2 \(f(d.distinct2, 2)), distinct-3 "
                + "\(f(d.distinct3, 2)), longest repeat \(d.longestRepeat) tokens")
            var shown: [ThresholdTable.Point] = []
            for p in h.paths.joined() where p.text != nil && !shown.contains(p) {
                shown.append(p)
                guard let t = p.text else { continue }
                let s = t.summary, c = t.compared(to: dense)
                print("    \(pctString(p.byteSparsity)) of FC bytes: distinct-2 \(f(s.distinct2, 2)), distinct-3 \(f(s.distinct3, 2)), "
                    + "longest repeat \(s.longestRepeat), first divergence at token \(f(s.firstDivergence ?? 0, 1)) on average, "
                    + "more repetitive than dense on \(c.worse) prompts, less on \(c.better)"
                    + (p.degenerates == true ? " — degenerates: out of budget" : " — fluent"))
            }
        }
        if let b = table.budget {
            print("budget ≤ +\(f(b.maxDeltaNLL, 2)) nats: \(pctString(b.byteSparsity)) of FC bytes "
                + "(loss \(signed(b.deltaNLL)), the larger of ΔNLL and KL; \(f(Double(b.bytesSavedPerToken) / 1e6, 1)) "
                + "MB/token saved)")
        }
    }
}

func pctString(_ v: Double) -> String { String(format: "%.1f %%", v * 100) }
func signed(_ v: Double) -> String { String(format: "%+.3f", v) }
