import ActSparse
import ActSparseDistributed
import ActSparseGeneration
import ArgumentParser
import Foundation

struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Generates text with sparse decode (dense prefill), alone or under launch/mpirun.",
        discussion: "Streams the text, then a summary on standard error: prompt tokens, prefill ms, decode tokens/s, "
            + "realized sparsity (and, on several ranks, communication per token). By default the sparsity is the "
            + "quality budget's (--budget, ΔNLL measured by `actsparse calibrate`); a --sparsity option sets uniform "
            + "MLP sparsity instead. --compare-dense measures the speed-up against dense decode (median of repeats).")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var sparsityOptions: SparsityOptions
    @OptionGroup var threadOptions: ThreadOptions
    @OptionGroup var commOptions: CommOptions
    @OptionGroup var sampling: SamplingOptions
    @Option(help: "Prompt text (raw completion unless --chat).") var prompt: String?
    @Option(help: ArgumentHelp("Read the prompt from this file ('-': standard input).", valueName: "path"))
    var promptFile: String?
    @Option(help: "System message (implies --chat).") var system: String?
    @Option(help: "Tokens to generate at most.") var tokens = 32
    @Flag(help: "Apply the model's chat template to the prompt (one user turn).") var chat = false
    @Flag(help: "Print one JSON object (text and summary) on standard output instead of streaming.") var json = false
    @Flag(help: "Measure dense decode too: the median tokens/s of --repeats runs of each, interleaved.")
    var compareDense = false
    @Option(help: "Runs of each for --compare-dense.") var repeats = 3
    @Flag(help: .hidden) var noDenseBaseline = false  // the dense baseline is opt-in now; kept for old scripts
    @Flag(help: ArgumentHelp("Gather the whole logits to rank 0 at every step and print a checksum of their bits "
        + "(compares rank counts: equal in --mode gather)."))
    var checksum = false

    static let defaultPrompt = "The capital of France is"

    /// What every rank must share (compared before the first collective).
    var settings: JobSettings {
        var s = JobSettings(command: "generate")
        s.add(modelOptions)
        s.add(sparsityOptions, model: modelOptions.model)
        return s
    }

    func run() throws {
        try withWorld(commOptions, settings: settings) { comm in
            var text = GenerateCommand.defaultPrompt
            try agreeOnConfiguration(comm) {
                if tokens < 1 { return "--tokens must be ≥ 1" }
                if repeats < 1 { return "--repeats must be ≥ 1" }
                if prompt != nil && promptFile != nil { return "--prompt and --prompt-file exclude each other" }
                if let promptFile {
                    do { text = try readPrompt(promptFile) } catch { return "\(error)" }
                } else if let prompt { text = prompt }
                return sampling.problem() ?? sparsityOptions.problem() ?? commOptions.problem() ?? modelOptions.problem()
            }
            let t0 = Timing.now()
            let llm = try DistributedLlama(comm: comm, path: modelOptions.model, mode: modelOptions.mode, scope: modelOptions.shard,
                                           threads: threadOptions.resolved, context: modelOptions.context, kv: modelOptions.kv, activations: modelOptions.activations,
                                           stepTimeout: commOptions.resolved, progress: TerminalProgress.handler)
            let loadSeconds = Double(Timing.now() - t0) * 1e-9
            guard llm.model != nil else { return try llm.follow() }
            try generate(llm, prompt: text, loadSeconds: loadSeconds)
            try llm.stop()  // only on success: after a failure withWorld aborts the job
        }
    }

    /// `loadSeconds`: from opening the file until every rank was ready.
    func generate(_ llm: DistributedLlama, prompt text: String, loadSeconds: Double) throws {
        let s = sparsityOptions, path = modelOptions.model
        let (generator, table) = try s.generator(llm, model: path)
        let plan = generator.plan
        let chat = self.chat || system != nil
        if chat && generator.isBaseModel {
            StandardError.write("warning: \(generator.name) is a base model (not instruction-tuned): it may not follow "
                + "chat turns and can loop; a plain prompt without --chat continues text\n")
        }
        let messages = (system.map { [ChatMessage(.system, $0)] } ?? []) + [ChatMessage(.user, text)]
        let parameters = sampling.parameters(maxTokens: nil)
        let ids: [Int32]
        do { ids = try generator.tokens(for: chat ? .chat(messages) : .text(text), parameters: parameters) } catch {
            throw ValidationError("\(error)")
        }
        var p = parameters
        p.maxTokens = min(tokens, llm.context - ids.count)
        var sum = Checksum()
        let onLogits: ((UnsafePointer<Float>, Int) -> Void)? = checksum ? { sum.add(Array(UnsafeBufferPointer(start: $0, count: $1))) } : nil

        // A cold first prefill (page faults, first touch of scratch) is kept apart when speeds are compared.
        var coldMs: Double?
        if compareDense {
            llm.model?.reset()
            coldMs = try Timing.seconds { _ = try llm.prefill(ids) } * 1e3
        }
        if !json && !chat { print(text, terminator: ""); fflush(nil) }
        let run = try generator.run(tokens: ids, parameters: p, onLogits: onLogits) { piece in
            if !json { print(piece, terminator: ""); fflush(nil) }
        }
        if !json { print(); fflush(nil) }
        guard let model = llm.model else { return }
        let per = 1e-6 / Double(max(1, run.usage.decodeSteps))
        let split = [model.decodeNanos.attention, model.decodeNanos.mlp, model.decodeNanos.head].map { Double($0) * per }
        let comm = (us: Double(llm.commNanos) / 1e3 / Double(max(1, run.usage.decodeSteps)), traffic: llm.traffic)

        var speed: (sparse: Double, dense: Double)?
        if compareDense {
            // Interleaved fixed-length runs (end of sequence ignored), so both decode the same number of tokens.
            var q = p
            q.maxTokens = max(2, run.tokens.count)
            q.ignoreEndOfSequence = true
            q.stop = []
            var sparse: [Double] = [], dense: [Double] = []
            for _ in 0..<repeats {
                try llm.setPlan(.dense(layers: llm.config.layers), table: nil)
                dense.append(try generator.run(tokens: ids, parameters: q) { _ in }.usage.tokensPerSecond)
                try llm.setPlan(plan, table: table, path: s.path(for: path))
                sparse.append(try generator.run(tokens: ids, parameters: q) { _ in }.usage.tokensPerSecond)
            }
            speed = (median(sparse), median(dense))
        }
        let summary = GenerateSummary(llm: llm, model: model, plan: plan, run: run, split: split, comm: comm, speed: speed,
                              coldMs: coldMs, loadSeconds: loadSeconds, checksum: checksum ? sum.hex : nil,
                              repeats: repeats, threads: threadOptions.resolved, mode: modelOptions.mode)
        if json {
            FileHandle.standardOutput.write(try summary.json(text: run.text, model: generator.name))
            print()
        } else {
            StandardError.write("--\n" + (try summary.lines()).joined(separator: "\n") + "\n")
        }
    }
}

/// The median of `v` (0 when empty).
func median(_ v: [Double]) -> Double {
    let s = v.sorted()
    return s.isEmpty ? 0 : s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

/// The prompt from a file, or standard input for "-".
func readPrompt(_ path: String) throws -> String {
    let data = path == "-" ? FileHandle.standardInput.readDataToEndOfFile()
        : try RegularFile.read(path, limit: textFileLimit, what: "prompt file")
    guard let text = String(data: data, encoding: .utf8) else {
        throw ActSparseError.file(path: path, problem: "the prompt is not UTF-8 text")
    }
    return text
}

func f(_ v: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", v) }
