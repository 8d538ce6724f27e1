/// The model's chat template, for the ChatML family (`<|im_start|>role\n…<|im_end|>\n`) that SmolLM2 and many
/// others use. The GGUF holds a Jinja template; rather than a Jinja engine we recognise ChatML and take the
/// default system message out of the template text. Other templates are an error naming the file.
public struct ChatTemplate: Sendable {
    public let defaultSystem: String?

    public init(gguf g: GGUFFile) throws {
        guard let t = g.metadata["tokenizer.chat_template"]?.string else {
            throw ActSparseError.file(path: g.path, problem: "no tokenizer.chat_template: --chat needs one")
        }
        guard t.contains("<|im_start|>") else {
            throw ActSparseError.file(path: g.path, problem: "chat template is not ChatML (<|im_start|>…); " +
                                      "use --prompt without --chat")
        }
        let marker = "<|im_start|>system\n"
        if let r = t.firstRange(of: marker), let e = t[r.upperBound...].firstRange(of: "<|im_end|>") {
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
        if let sys = system ?? defaultSystem { s += [("<|im_start|>system\n", true), (sys, false), ("<|im_end|>\n", true)] }
        return s + [("<|im_start|>user\n", true), (user, false), ("<|im_end|>\n<|im_start|>assistant\n", true)]
    }
}
