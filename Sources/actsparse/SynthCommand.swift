import ActSparse
import ActSparseTools
import ArgumentParser
import Foundation

/// `actsparse synth`: a full-size GGUF with random weights, for speed, memory, loading and scaling at 7B scale.
struct SynthCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synth",
        abstract: "Writes a GGUF with random weights of a family's shape and a llama.cpp type mix.",
        discussion: """
            Weights are random blocks whose scales keep activations finite (std 1/√IC per projection); the file \
            follows the GGUF spec, so llama.cpp loads it too. Example, a Llama-2-7B-shaped Q4_K_M file with \
            SmolLM2's tokenizer (≈ 4 GB):
              actsparse synth --arch llama --preset llama2-7b --types q4_k_m --tokenizer-from SMOLLM2.gguf --out /tmp/l7.gguf
            """)

    @Option(help: "Architecture: \(Architecture.known.map(\.name).joined(separator: ", ")).") var arch = "llama"
    @Option(help: "Shape: \(Synthesizer.Preset.allCases.map(\.rawValue).joined(separator: ", ")).")
    var preset: Synthesizer.Preset = .tiny
    @Option(help: "Type mix: \(Synthesizer.Mix.allCases.map(\.rawValue).joined(separator: ", ")).") var types: Synthesizer.Mix = .q4_k_m
    @Option(help: "Copy the tokenizer (and vocabulary size) of this GGUF (default: a byte-level vocabulary).")
    var tokenizerFrom: String?
    @Option(help: "Layers (default: the preset's).") var layers: Int?
    @Option(help: "Hidden size (default: the preset's).") var hidden: Int?
    @Option(help: "MLP intermediate size (default: the preset's).") var intermediate: Int?
    @Option(help: "Attention heads and KV heads, e.g. 32/8 (default: the preset's).") var heads: String?
    @Option(help: "Vocabulary size without --tokenizer-from (default: the preset's).") var vocab: Int?
    @Option(help: "Random seed.") var seed: UInt64 = 1
    @Option(help: "Output file.") var out: String

    func validate() throws {
        if let layers, !(1...256).contains(layers) { throw ValidationError("--layers must be 1...256, found \(layers)") }
        if let hidden, !(2...65536).contains(hidden) { throw ValidationError("--hidden must be 2...65536, found \(hidden)") }
        if let intermediate, !(1...262_144).contains(intermediate) {
            throw ValidationError("--intermediate must be 1...262144, found \(intermediate)")
        }
        if let vocab, !(259...(1 << 22)).contains(vocab) { throw ValidationError("--vocab must be 259...4194304, found \(vocab)") }
        if let heads {
            let p = heads.split(separator: "/").compactMap { Int($0) }
            guard p.count == 2, p[0] >= 1, p[1] >= 1, p[0] % p[1] == 0 else {
                throw ValidationError("--heads: expected H/KV with KV dividing H, found \(heads)")
            }
        }
    }

    func run() throws {
        do {
            let a = try Architecture(named: arch, path: "--arch")
            var shape = preset.shape
            if let layers { shape.layers = layers }
            if let hidden { shape.hidden = hidden }
            if let intermediate { shape.intermediate = intermediate }
            if let vocab { shape.vocab = vocab }
            if let heads {
                let p = heads.split(separator: "/").compactMap { Int($0) }
                shape.heads = p[0]; shape.kvHeads = p[1]
            }
            guard shape.hidden % shape.heads == 0, (shape.hidden / shape.heads) % 2 == 0 else {
                throw ValidationError("--hidden \(shape.hidden) must be a multiple of 2 × the \(shape.heads) heads")
            }
            let tok = try tokenizerFrom.map { try GGUFFile(path: $0) }
            let s = try Synthesizer(architecture: a, shape: shape, mix: types, tokenizer: tok, seed: seed)
            let total = s.layout().tensors.reduce(0) { $0 + $1.bytes }
            let progress = Progress("writing \(out)", total: total, unit: .bytes, handler: TerminalProgress.handler)
            let t0 = Date()
            try s.write(to: out) { progress.advance($0) }
            progress.finish()
            FileHandle.standardError.write(Data(String(format: "wrote %@: %@ %@ %d layers, %.2f GB in %.1f s\n", out, arch,
                preset.rawValue, s.shape.layers, Double(total) / 1e9, Date().timeIntervalSince(t0)).utf8))
        } catch {
            FileHandle.standardError.write(Data("actsparse: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}
