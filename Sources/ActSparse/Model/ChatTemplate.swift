/// The model's chat turns. The GGUF holds a Jinja template; rather than a Jinja engine we recognise the three
/// families' turn markers in it — ChatML (`<|im_start|>role\n…<|im_end|>\n`: SmolLM2, Qwen2), Llama-3
/// (`<|start_header_id|>role<|end_header_id|>\n\n…<|eot_id|>`) and Gemma (`<start_of_turn>user\n…<end_of_turn>\n`)
/// — and take a default system message out of a ChatML template. A file without a template gets its
/// architecture's turns (Gemma-3 GGUFs often carry none); any other template is an error naming the file.
public struct ChatTemplate: Sendable {
    public let style: Architecture.Chat
    public let defaultSystem: String?
    /// False when the file carries no chat template (its architecture's turns are assumed): instruction-tuned
    /// GGUFs carry one, so such a file is most likely a base model, which continues text rather than answering.
    public let fromFile: Bool

    public init(gguf g: GGUFFile) throws {
        let t = g.metadata["tokenizer.chat_template"]?.string
        fromFile = t != nil
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

    /// The prompt for a conversation (system, then user and assistant turns), ending where the assistant starts
    /// to speak. Without a system message the template's default (ChatML) is used.
    public func render(_ messages: [ChatMessage]) -> String { segments(messages).map(\.text).joined() }

    /// A conversation as token ids; message text never becomes control tokens (see `encode(user:)`).
    public func encode(_ messages: [ChatMessage], tokenizer: Tokenizer) -> [Int32] {
        var ids = tokenizer.bos.map { [$0] } ?? []
        for s in segments(messages) { ids += tokenizer.encodeText(s.text, specials: s.template) }
        return ids
    }

    /// A whole conversation as token ids, closed after its last turn (no opener for a next reply): text the model
    /// reads in chats, for calibration and scoring.
    public func encodeTranscript(_ messages: [ChatMessage], tokenizer: Tokenizer) -> [Int32] {
        var ids = tokenizer.bos.map { [$0] } ?? []
        for s in segments(messages).dropLast() { ids += tokenizer.encodeText(s.text, specials: s.template) }
        return ids
    }

    /// The same prompt as token ids: the template's markers become control tokens, the user's and system's
    /// text never does (a user who types `<|im_start|>` gets those characters, not a new turn).
    public func encode(user: String, system: String? = nil, tokenizer: Tokenizer) -> [Int32] {
        var ids = tokenizer.bos.map { [$0] } ?? []
        for s in segments(user: user, system: system) { ids += tokenizer.encodeText(s.text, specials: s.template) }
        return ids
    }

    func segments(user: String, system: String?) -> [(text: String, template: Bool)] {
        segments((system.map { [ChatMessage(.system, $0)] } ?? []) + [ChatMessage(.user, user)])
    }

    /// Turns in the family's markers. Gemma has no system role: its system text opens the next user turn, as its
    /// own template does.
    func segments(_ messages: [ChatMessage]) -> [(text: String, template: Bool)] {
        var turns = messages
        var system: String? = defaultSystem
        if let first = turns.first, first.role == .system { system = first.content; turns.removeFirst() }
        var s: [(text: String, template: Bool)] = []
        var pendingSystem = style == .gemma ? system : nil
        if style != .gemma, let sys = system {
            s += style == .chatML ? [("<|im_start|>system\n", true), (sys, false), ("<|im_end|>\n", true)]
                : [("<|start_header_id|>system<|end_header_id|>\n\n", true), (sys, false), ("<|eot_id|>", true)]
        }
        for m in turns {
            switch (style, m.role) {
            case (.gemma, .system):
                pendingSystem = [pendingSystem, m.content].compactMap { $0 }.joined(separator: "\n\n")
            case (.gemma, _):
                s.append(("<start_of_turn>\(m.role == .assistant ? "model" : "user")\n", true))
                if m.role == .user, let p = pendingSystem { s.append((p + "\n\n", false)); pendingSystem = nil }
                s += [(m.content, false), ("<end_of_turn>\n", true)]
            case (.chatML, _):
                s += [("<|im_start|>\(m.role.rawValue)\n", true), (m.content, false), ("<|im_end|>\n", true)]
            case (.llama3, _):
                s += [("<|start_header_id|>\(m.role.rawValue)<|end_header_id|>\n\n", true), (m.content, false),
                      ("<|eot_id|>", true)]
            }
        }
        switch style {
        case .chatML: s.append(("<|im_start|>assistant\n", true))
        case .llama3: s.append(("<|start_header_id|>assistant<|end_header_id|>\n\n", true))
        case .gemma: s.append(("<start_of_turn>model\n", true))
        }
        return s
    }
}
