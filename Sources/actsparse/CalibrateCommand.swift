import ActSparse
import ActSparseMPI
import ArgumentParser
import Foundation

struct CalibrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calibrate",
        abstract: "Per-layer MLP thresholds for target sparsities, from quantiles of |x| over a calibration text.",
        discussion: """
            Runs the text through the dense model in chunks, collects |h| (gate/up input) and |a| (down input) per
            layer, leaving out each chunk's first position (its massive activations), and writes the thresholds for
            targets 0, 0.05 … 0.95 to a JSON file that `generate` and `eval` read. Runs as one process.
            """)

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var threadOptions: ThreadOptions
    @Option(help: "Calibration text file.") var text: String
    @Option(help: "Output JSON (default: the cached thresholds file for the model).") var out: String?
    @Option(help: "Calibration tokens at most.") var tokens = 2048
    @Option(help: "Tokens per chunk (each chunk starts a new sequence).") var chunk = 128

    func run() throws {
        try withWorld { comm in
            try agreeOnConfiguration(comm) {
                if comm.size > 1 { return "calibrate runs as one process: start it without mpirun" }
                if chunk < 2 || tokens < chunk { return "--chunk must be ≥ 2 and ≤ --tokens" }
                guard FileManager.default.fileExists(atPath: text) else { return "\(text): no such calibration text" }
                return modelOptions.problem()
            }
            let llm = try DistributedLlama(comm: comm, path: modelOptions.model, mode: .gather,
                                           threads: threadOptions.resolved, context: max(chunk, 16))
            let model = llm.model!
            let c = llm.config
            let body = try readText(text)
            let ids = Array(model.tokenizer.encode(body).prefix(tokens))
            guard ids.count >= chunk else {
                throw ValidationError("\(text): \(ids.count) tokens, need at least --chunk \(chunk)")
            }
            let calibrator = ThresholdCalibrator(layers: c.layers)
            for (l, mlp) in llm.mlps.enumerated() {
                mlp.capture = { x, a, m in
                    calibrator.add(layer: l, x: x, a: a, m: m, hidden: c.hidden, intermediate: c.intermediate, skip: 1)
                }
            }
            let t0 = Timing.now()
            let starts = Array(stride(from: 0, to: ids.count - chunk + 1, by: chunk))
            let progress = Progress("calibrating", total: starts.count, unit: .items("chunks of \(chunk) tokens"))
            for start in starts {
                model.reset()
                try llm.prefill(Array(ids[start..<(start + chunk)]))
                progress.advance(1)
            }
            progress.finish()
            try llm.stop()
            let table = calibrator.table(config: c, modelBytes: llm.gguf.size)
            let path = out ?? ModelCache.defaultThresholds(for: modelOptions.model)
            try FileManager.default.createDirectory(
                atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path, withIntermediateDirectories: true)
            try table.save(path)
            let k = table.targets.firstIndex(of: 0.5) ?? table.targets.count / 2
            print("calibrated \(c.layers) layers on \(table.calibrationTokens) tokens in "
                + "\(f(Double(Timing.now() - t0) * 1e-9, 1)) s → \(path)")
            print("at 50 %: gate/up thresholds \(f(Double(table.gateUp.map { $0[k] }.min()!), 3))…"
                + "\(f(Double(table.gateUp.map { $0[k] }.max()!), 3)), down \(f(Double(table.down.map { $0[k] }.min()!), 4))…"
                + "\(f(Double(table.down.map { $0[k] }.max()!), 4))")
        }
    }
}
