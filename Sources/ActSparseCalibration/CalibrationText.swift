import ActSparse
import Foundation

/// One register of calibration text (prose, dialogue, code, lists, a chat): its name and its content, plain text
/// or conversations the model reads in its own chat template.
public struct CalibrationText: Sendable, Equatable {
    public enum Content: Sendable, Equatable {
        case text(String)
        /// Conversations, each a list of turns (rendered with the model's template, closed after the last turn).
        case chats([[ChatMessage]])
    }

    public var name: String
    public var content: Content

    public init(name: String, _ content: Content) { self.name = name; self.content = content }

    /// The token ids of this register for `model` (BOS first where the model wants one; conversations in its chat
    /// template, or its architecture's turn markers when the file carries no template).
    public func tokens(_ model: LlamaModel, template: ChatTemplate?) -> [Int32] {
        switch content {
        case .text(let t): return model.tokenizer.encode(t)
        case .chats(let chats):
            guard let template else {
                return model.tokenizer.encode(chats.map { $0.map { "\($0.role.rawValue): \($0.content)" }.joined(separator: "\n") }
                    .joined(separator: "\n\n"))
            }
            return chats.flatMap { template.encodeTranscript($0, tokenizer: model.tokenizer) }
        }
    }

    /// A conversation file: a line starting `system:`, `user:` or `assistant:` opens a turn, other lines continue
    /// it, and a line `---` starts the next conversation. Throws naming the line when text precedes any turn.
    public static func parseChats(_ text: String, name: String) throws -> [[ChatMessage]] {
        var chats: [[ChatMessage]] = [], turns: [ChatMessage] = []
        for (k, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = String(raw)
            if line.trimmingCharacters(in: .whitespaces) == "---" {
                if !turns.isEmpty { chats.append(turns); turns = [] }
                continue
            }
            if let role = ChatMessage.Role.allCases.first(where: { line.hasPrefix($0.rawValue + ":") }) {
                let body = line.dropFirst(role.rawValue.count + 1).trimmingCharacters(in: .whitespaces)
                turns.append(ChatMessage(role, body))
            } else if var last = turns.popLast() {
                last.content += "\n" + line
                turns.append(last)
            } else if !line.trimmingCharacters(in: .whitespaces).isEmpty {
                throw ActSparseError.file(path: name, problem: "line \(k + 1): text before the first turn (expected a "
                    + "line starting system:, user: or assistant:)")
            }
        }
        if !turns.isEmpty { chats.append(turns) }
        return chats.map { $0.map { ChatMessage($0.role, $0.content.trimmingCharacters(in: .whitespacesAndNewlines)) } }
            .filter { !$0.isEmpty }
    }

    /// The registers at `path`: a file is one register named after it, a directory every `*.txt` in it (by name).
    /// A file named `NAME.chat.txt` holds conversations (`parseChats`). `read(path)` reads one file (the caller
    /// bounds its size).
    public static func load(_ path: String, read: (String) throws -> String) throws -> [CalibrationText] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ActSparseError.file(path: path, problem: "no such calibration text or directory")
        }
        let files: [String]
        if isDirectory.boolValue {
            files = try FileManager.default.contentsOfDirectory(atPath: path).filter { $0.hasSuffix(".txt") }.sorted()
                .map { path + "/" + $0 }
            guard !files.isEmpty else { throw ActSparseError.file(path: path, problem: "a directory without *.txt files") }
        } else {
            files = [path]
        }
        return try files.map { file in
            let base = URL(fileURLWithPath: file).lastPathComponent
            let text = try read(file)
            if base.hasSuffix(".chat.txt") {
                let chats = try parseChats(text, name: file)
                guard !chats.isEmpty else { throw ActSparseError.file(path: file, problem: "no conversation in it") }
                return CalibrationText(name: String(base.dropLast(".chat.txt".count)), .chats(chats))
            }
            return CalibrationText(name: base.hasSuffix(".txt") ? String(base.dropLast(4)) : base, .text(text))
        }
    }
}
