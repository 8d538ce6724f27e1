import ActSparse
import ActSparseDistributed
import ActSparseGeneration
import ArgumentParser
import Foundation

/// An interactive conversation in the terminal: each line is a user turn, the answer streams, the whole
/// conversation is the next turn's prompt (until the context is full).
struct ChatCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat",
        abstract: "Chats with the model in the terminal (multi-turn, streaming), alone or under launch/mpirun.",
        discussion: "Type a message and press Enter. /reset starts over, /exit (or end of input) quits. Under mpirun "
            + "rank 0 reads the terminal.")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var sparsityOptions: SparsityOptions
    @OptionGroup var threadOptions: ThreadOptions
    @OptionGroup var commOptions: CommOptions
    @OptionGroup var sampling: SamplingOptions
    @Option(help: "System message.") var system: String?
    @Option(help: "Tokens per answer at most.") var tokens = 512
    @Flag(help: "After each answer, print tokens, tokens/s and realized sparsity.") var stats = false

    /// What every rank must share (compared before the first collective).
    var settings: JobSettings {
        var s = JobSettings(command: "chat")
        s.add(modelOptions)
        s.add(sparsityOptions, model: modelOptions.model)
        return s
    }

    func run() throws {
        try withWorld(commOptions, settings: settings) { comm in
            try agreeOnConfiguration(comm) {
                if tokens < 1 { return "--tokens must be ≥ 1" }
                return sampling.problem() ?? sparsityOptions.problem() ?? commOptions.problem() ?? modelOptions.problem()
            }
            let llm = try DistributedLlama(comm: comm, path: modelOptions.model, mode: modelOptions.mode, scope: modelOptions.shard,
                                           threads: threadOptions.resolved, context: modelOptions.context, kv: modelOptions.kv,
                                           activations: modelOptions.activations, stepTimeout: commOptions.resolved,
                                           progress: TerminalProgress.handler)
            guard llm.model != nil else { return try llm.follow(idle: 0) }  // a person types: no limit between turns
            try converse(llm)
            try llm.stop()
        }
    }

    func converse(_ llm: DistributedLlama) throws {
        let generator = try sparsityOptions.generator(llm, model: modelOptions.model).generator
        let plan = generator.plan
        guard generator.template != nil else {
            throw ValidationError("\(generator.name) has no chat template: use `actsparse generate --prompt …`")
        }
        if generator.isBaseModel {
            StandardError.write("warning: \(generator.name) is a base model (not instruction-tuned): it may not follow "
                + "chat turns and can loop\n")
        }
        let interactive = isatty(0) != 0
        if interactive {
            StandardError.write("\(generator.name) · sparsity: \(plan.label) · /reset starts over, /exit quits\n")
        }
        let start = system.map { [ChatMessage(.system, $0)] } ?? []
        var messages = start
        while true {
            if interactive { print("> ", terminator: ""); fflush(nil) }
            guard let line = readLine() else { break }
            let input = line.trimmingCharacters(in: .whitespaces)
            if input.isEmpty { continue }
            if input == "/exit" || input == "/quit" { break }
            if input == "/reset" { messages = start; continue }
            messages.append(ChatMessage(.user, input))
            var p = sampling.parameters(maxTokens: nil)
            let ids: [Int32]
            do {
                ids = try generator.tokens(for: .chat(messages), parameters: p)
            } catch let e as GeneratorError {
                // The conversation outgrew the context: say so, keep the session, start over.
                StandardError.write("\(e.description); starting over (/reset)\n")
                messages = start
                continue
            }
            p.maxTokens = min(tokens, llm.context - ids.count)
            let r = try generator.run(tokens: ids, parameters: p) { print($0, terminator: ""); fflush(nil) }
            print()
            fflush(nil)
            messages.append(ChatMessage(.assistant, r.text))
            if stats {
                let u = r.usage
                StandardError.write("[\(u.promptTokens) prompt + \(u.completionTokens) tokens, prefill "
                    + "\(f(u.prefillSeconds * 1e3, 0)) ms, \(f(u.tokensPerSecond, 1)) tokens/s, realized "
                    + "\(GenerateSummary.sites(u.realizedSparsity)), \(r.finishReason.rawValue)]\n")
            }
        }
    }
}
