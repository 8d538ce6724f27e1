import ActSparse

/// What to continue: raw text (a completion), a conversation in the model's chat template, or token ids.
public enum Prompt: Sendable, Equatable {
    case text(String)
    case chat([ChatMessage])
    case tokens([Int32])
}
