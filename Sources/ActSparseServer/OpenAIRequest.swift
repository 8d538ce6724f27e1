import ActSparse
import ActSparseGeneration
import Foundation

/// The fields of `/v1/chat/completions` and `/v1/completions` requests this server reads; others are ignored
/// (clients send many). Types are checked: a string where a number belongs is a 400 naming the field.
struct OpenAIRequest: Decodable {
    struct Message: Decodable {
        var role: String
        var content: Content?
    }
    /// A message's content: a string, or OpenAI's list of parts (only text parts are understood).
    struct Content: Decodable {
        var text: String
        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let s = try? c.decode(String.self) { text = s; return }
            struct Part: Decodable { var type: String; var text: String? }
            let parts = try c.decode([Part].self)
            guard parts.allSatisfy({ $0.type == "text" && $0.text != nil }) else {
                throw DecodingError.dataCorruptedError(in: c, debugDescription: "only text content parts are supported")
            }
            text = parts.compactMap(\.text).joined()
        }
    }
    /// `stop` and `prompt`: a string or a list of strings.
    struct Strings: Decodable {
        var values: [String]
        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let s = try? c.decode(String.self) { values = [s] } else { values = try c.decode([String].self) }
        }
    }
    struct StreamOptions: Decodable { var include_usage: Bool? }

    var model: String?
    var messages: [Message]?
    var prompt: Strings?
    var max_tokens: Int?
    var max_completion_tokens: Int?
    var temperature: Float?
    var top_p: Float?
    var top_k: Int?
    var min_p: Float?
    var repeat_penalty: Float?
    /// llama-server's extension: keep generating past end-of-sequence (benchmarks, fixed lengths).
    var ignore_eos: Bool?
    var stop: Strings?
    var seed: Int64?
    var n: Int?
    var stream: Bool?
    var stream_options: StreamOptions?

    /// Decodes a body, or a 400 naming the field and what was wrong.
    static func decode(_ data: Data) throws -> OpenAIRequest {
        do {
            return try JSONDecoder().decode(OpenAIRequest.self, from: data)
        } catch let e as DecodingError {
            throw APIError.invalid(describe(e), param: path(e))
        } catch {
            throw APIError.invalid("the body is not valid JSON: \(error.localizedDescription)")
        }
    }

    static func path(_ e: DecodingError) -> String? {
        let p: [CodingKey]
        switch e {
        case .typeMismatch(_, let c), .valueNotFound(_, let c), .dataCorrupted(let c): p = c.codingPath
        case .keyNotFound(let k, let c): p = c.codingPath + [k]
        @unknown default: return nil
        }
        return p.isEmpty ? nil : p.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
    }

    static func describe(_ e: DecodingError) -> String {
        let at = path(e).map { " at '\($0)'" } ?? ""
        switch e {
        case .typeMismatch(let t, _): return "wrong type\(at): expected \(t)"
        case .valueNotFound(let t, _): return "missing value\(at): expected \(t)"
        case .keyNotFound(let k, _): return "missing field '\(k.stringValue)'"
        case .dataCorrupted(let c):
            let why = (c.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String ?? c.debugDescription
            return c.codingPath.isEmpty ? "the body is not valid JSON: \(why)" : "invalid value\(at): \(c.debugDescription)"
        @unknown default: return "invalid request"
        }
    }

    /// The generation settings, checked (a 400 naming the field otherwise).
    func parameters(timeout: Double?) throws -> GenerationParameters {
        var p = GenerationParameters(timeout: timeout)
        p.maxTokens = max_completion_tokens ?? max_tokens
        // llama-server's defaults: small models ramble at OpenAI's temperature 1 without top-k and min-p cuts.
        p.temperature = temperature ?? 0.8
        p.topP = top_p ?? 0.95
        p.topK = top_k ?? 40
        p.minP = min_p ?? 0.05
        p.repeatPenalty = repeat_penalty ?? 1
        p.stop = stop?.values ?? []
        p.ignoreEndOfSequence = ignore_eos ?? false
        if let seed { p.seed = UInt64(bitPattern: seed) } else { p.seed = UInt64.random(in: 0...UInt64.max) }
        if let n, n != 1 { throw APIError.invalid("only n = 1 is supported (batch 1), found \(n)", param: "n") }
        let names = ["maxTokens": "max_tokens", "temperature": "temperature", "topP": "top_p", "topK": "top_k",
                     "minP": "min_p", "repeatPenalty": "repeat_penalty", "stop": "stop", "timeout": "timeout"]
        if let problem = p.problem({ names[$0] ?? $0 }) {
            throw APIError.invalid(problem, param: names.values.first { problem.hasPrefix($0) })
        }
        return p
    }

    /// The chat turns (roles checked).
    func chat() throws -> [ChatMessage] {
        guard let messages, !messages.isEmpty else {
            throw APIError.invalid("'messages' must hold at least one message", param: "messages")
        }
        return try messages.enumerated().map { i, m in
            let role: ChatMessage.Role
            switch m.role {
            case "system", "developer": role = .system
            case "user": role = .user
            case "assistant": role = .assistant
            default:
                throw APIError.invalid("messages[\(i)].role '\(m.role)' is not system, developer, user or assistant",
                                       param: "messages.\(i).role")
            }
            return ChatMessage(role, m.content?.text ?? "")
        }
    }

    /// The completion prompt (one string).
    func completionPrompt() throws -> String {
        guard let prompt else { throw APIError.invalid("missing field 'prompt'", param: "prompt") }
        guard prompt.values.count == 1 else {
            throw APIError.invalid("'prompt' must be one string (batch 1), found \(prompt.values.count)", param: "prompt")
        }
        return prompt.values[0]
    }
}
