import ActSparse
import ActSparseMPI
import ArgumentParser
import Foundation

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "NLL / perplexity of a held-out text, dense vs sparse MLPs at each target sparsity.",
        discussion: "Every position runs the decode path (sparse MLPs); prints a table with realized sparsity and "
            + "writes per-layer realized sparsity to --csv.")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var threadOptions: ThreadOptions
    @OptionGroup var commOptions: CommOptions
    @Option(help: "Evaluation text file.") var text: String
    @Option(help: "Target sparsities (comma list; both MLP inputs).") var sparsity = "0.25,0.4,0.5,0.6"
    @Option(help: "Down-input target as a multiple of the gate/up one (e.g. 1.0 both equal).") var downRatio = 1.0
    @Option(help: "Thresholds file (default: the cached one for the model).") var thresholds: String?
    @Option(help: "Tokens of the text to score.") var tokens = 384
    @Option(help: "Write per-layer results as CSV here.") var csv: String?

    func run() throws {
        try withWorld(commOptions) { comm in
            var targets: [Double] = []
            try agreeOnConfiguration(comm) {
                guard let t = try? parseList(sparsity, "--sparsity", { Double($0) }), t.allSatisfy({ (0..<1).contains($0) })
                else { return "--sparsity: comma list of values in 0..<1" }
                targets = t
                if tokens < 2 { return "--tokens must be ≥ 2, found \(tokens)" }
                if !(downRatio > 0 && downRatio.isFinite) { return "--down-ratio must be > 0, found \(downRatio)" }
                guard FileManager.default.fileExists(atPath: text) else { return "\(text): no such evaluation text" }
                return commOptions.problem() ?? modelOptions.problem()
            }
            let llm = try DistributedLlama(comm: comm, path: modelOptions.model, mode: modelOptions.mode,
                                           threads: threadOptions.resolved, context: tokens + 1, kv: modelOptions.kv,
                                           stepTimeout: commOptions.resolved)
            guard let model = llm.model else { return try llm.follow() }
            let opts = try SparsityOptions.parse(thresholds.map { ["--thresholds", $0] } ?? [])
            let table = try SparsityOptions.parse(["--thresholds", opts.path(for: modelOptions.model)])
                .table(model: modelOptions.model, config: llm.config, bytes: llm.gguf.size)
            let ids = Array(model.tokenizer.encode(try readText(text)).prefix(tokens + 1))
            guard ids.count > 2 else { throw ValidationError("\(text) has too few tokens") }

            var rows: [String] = ["target,layer,realized_gate_up,realized_down,nll,ppl,delta_nll"]
            var denseNLL = 0.0
            print("target   NLL (nats/token)  PPL      ΔNLL     realized gate/up  down   tokens/s")
            for target in [0.0] + targets {
                model.reset()
                try llm.setThresholds(target == 0 ? nil : table, gateUp: target, down: min(0.99, target * downRatio))
                llm.resetStats()
                var nll = 0.0
                let t0 = Timing.now()
                for k in 0..<(ids.count - 1) {
                    let logits = try llm.decode(ids[k])
                    var mx = -Float.infinity
                    for v in 0..<llm.config.vocab { mx = max(mx, logits[v]) }
                    var sum = 0.0
                    for v in 0..<llm.config.vocab { sum += Double(expf(logits[v] - mx)) }
                    nll += log(sum) + Double(mx) - Double(logits[Int(ids[k + 1])])
                }
                let sec = Double(Timing.now() - t0) * 1e-9
                nll /= Double(ids.count - 1)
                if target == 0 { denseNLL = nll }
                let (sGU, sD) = llm.realizedSparsity
                print(String(format: "%-8@ %16.4f  %-8.3f %+7.4f  %16.3f  %5.3f  %8.1f", target == 0 ? "dense" : f(target, 2),
                             nll, exp(nll), nll - denseNLL, sGU, sD, Double(ids.count - 1) / sec))
                for (l, mlp) in llm.mlps.enumerated() {
                    let (g, d) = mlp.realizedSparsity
                    rows.append("\(target),\(l),\(f(g, 4)),\(f(d, 4)),\(f(nll, 5)),\(f(exp(nll), 4)),\(f(nll - denseNLL, 5))")
                }
            }
            try llm.stop()  // only on success: after a failure withWorld aborts the job
            print("(\(ids.count - 1) tokens of \(text); per-layer realized sparsity in --csv)")
            if let csv { try rows.joined(separator: "\n").appending("\n").write(toFile: csv, atomically: true, encoding: .utf8) }
        }
    }
}
