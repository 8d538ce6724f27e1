import ActSparse
import ArgumentParser
import Foundation

/// Token ids of a text as the model's tokenizer gives them (BOS included when the model adds one): to compare
/// with another engine, or to see how a prompt splits.
struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Prints the token ids of a text (and each token's text with --pieces).")

    @Option(help: "GGUF model file, or a name: smollm2 (default unless ACTSPARSE_MODEL is set), gemma3-270m.")
    var model: String = ModelCache.defaultModel
    @Option(help: "The text (default: standard input).") var text: String?
    @Flag(help: "Control-token strings in the text (<|im_start|>, <start_of_turn>) become control tokens.")
    var specials = false
    @Flag(help: "Print one token per line with its text.") var pieces = false

    mutating func validate() throws { model = try ModelCache.resolve(model) }

    func run() throws {
        let tokenizer = try Tokenizer(gguf: try GGUFFile(path: model))
        let input = text ?? String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        let ids = tokenizer.encode(input, specials: specials)
        if pieces {
            for id in ids { print(id, tokenizer.decode([id]).debugDescription) }
        } else {
            print(ids.map(String.init).joined(separator: " "))
        }
    }
}
