import ActSparseGeneration
import ArgumentParser

/// How `generate` and `chat` pick tokens and when they stop (the server takes the same per request).
struct SamplingOptions: ParsableArguments {
    @Flag(help: "Greedy decoding (the default unless --temperature is given).") var greedy = false
    @Option(help: "Sampling temperature (0 = greedy).") var temperature: Float = 0
    @Option(help: "Nucleus sampling mass.") var topP: Float = 0.95
    @Option(help: "Keep only the k most likely tokens (0 = no limit).") var topK = 0
    @Option(help: "Keep tokens at least this fraction as likely as the most likely one (0 = off).") var minP: Float = 0
    @Option(help: "Penalise tokens of the last 64 (llama.cpp's --repeat-penalty; 1 = off).") var repeatPenalty: Float = 1
    @Option(help: "Sampling seed.") var seed: UInt64 = 1
    @Option(help: "Stop before this text (repeatable; the text itself is not printed).") var stop: [String] = []

    func parameters(maxTokens: Int?) -> GenerationParameters {
        GenerationParameters(maxTokens: maxTokens, temperature: greedy ? 0 : temperature, topP: topP, topK: topK,
                             minP: minP, repeatPenalty: repeatPenalty, seed: seed, stop: stop)
    }

    static let flags = ["maxTokens": "--tokens", "temperature": "--temperature", "topP": "--top-p", "topK": "--top-k",
                        "minP": "--min-p", "repeatPenalty": "--repeat-penalty", "stop": "--stop", "timeout": "--timeout"]

    func problem() -> String? {
        if greedy && temperature > 0 { return "--greedy and --temperature exclude each other" }
        return parameters(maxTokens: nil).problem { SamplingOptions.flags[$0] ?? $0 }
    }
}
