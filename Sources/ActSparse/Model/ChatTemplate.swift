/// The model's chat turns. The GGUF holds a Jinja template; rather than a Jinja engine we recognise the three
/// families' turn markers in it — ChatML (`<|im_start|>role\n…<|im_end|>\n`: SmolLM2, Qwen2), Llama-3
/// (`<|start_header_id|>role<|end_header_id|>\n\n…<|eot_id|>`) and Gemma (`<start_of_turn>user\n…<end_of_turn>\n`)
/// — and take a default system message out of a ChatML template. A file without a template gets its
/// architecture's turns (Gemma-3 GGUFs often carry none); any other template is an error naming the file.
public struct ChatTemplate: Sendable {
    public let style: Architecture.Chat
    public let defaultSystem: String?

    public init(gguf g: GGUFFile) throws {
        let t = g.metadata["tokenizer.chat_template"]?.string
        if let t {
            if t.contains("<|im_start|>") { style = .chatML }
            else if t.contains("<|start_header_id|>") { style = .llama3 }
            else if t.contains("<start_of_turn>") { style = .gemma }
            else {
                throw ActSparseError.file(path: g.path, problem: "chat template is none of ChatML (<|im_start|>…), " +
                                          "Llama-3 (<|start_header_id|>…) or Gemma (<start_of_turn>…); use plain text without chat turns")
            }
        } else {
            let arch = try Architecture(named: try g.string("general.architecture"), path: g.path)
            guard arch.chat == .gemma else {
                throw ActSparseError.file(path: g.path, problem: "no tokenizer.chat_template: chat turns need one")
            }
            style = arch.chat
        }
        let marker = "<|im_start|>system\n"
        if style == .chatML, let t, let r = t.firstRange(of: marker), let e = t[r.upperBound...].firstRange(of: "<|im_end|>") {
            defaultSystem = String(t[r.upperBound..<e.lowerBound])
        } else {
            defaultSystem = nil
        }
    }

    /// The prompt for one user turn, ending where the assistant starts to speak.
    public func render(user: String, system: String? = nil) -> String {
        segments(user: user, system: system).map(\.text).joined()
    }

    /// The same prompt as token ids: the template's markers become control tokens, the user's and system's
    /// text never does (a user who types `<|im_start|>` gets those characters, not a new turn).
    public func encode(user: String, system: String? = nil, tokenizer: Tokenizer) -> [Int32] {
        var ids = tokenizer.bos.map { [$0] } ?? []
        for s in segments(user: user, system: system) { ids += tokenizer.encodeText(s.text, specials: s.template) }
        return ids
    }

    func segments(user: String, system: String?) -> [(text: String, template: Bool)] {
        var s: [(String, Bool)] = []
        let sys = system ?? defaultSystem
        switch style {
        case .chatML:
            if let sys { s += [("<|im_start|>system\n", true), (sys, false), ("<|im_end|>\n", true)] }
            return s + [("<|im_start|>user\n", true), (user, false), ("<|im_end|>\n<|im_start|>assistant\n", true)]
        case .llama3:
            if let sys { s += [("<|start_header_id|>system<|end_header_id|>\n\n", true), (sys, false), ("<|eot_id|>", true)] }
            return s + [("<|start_header_id|>user<|end_header_id|>\n\n", true), (user, false),
                        ("<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n", true)]
        case .gemma:
            // Gemma has no system role: its template puts the system text at the top of the first user turn.
            s = [("<start_of_turn>user\n", true)]
            if let sys { s += [(sys + "\n\n", false)] }
            return s + [(user, false), ("<end_of_turn>\n<start_of_turn>model\n", true)]
        }
    }
}
