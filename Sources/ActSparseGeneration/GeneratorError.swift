/// Why a request was not (or not fully) served. `description` is one line for a user.
public enum GeneratorError: Error, Equatable, CustomStringConvertible, Sendable {
    /// A setting out of range (names the field).
    case invalidRequest(String)
    /// The prompt leaves no room to generate: tokens vs the context.
    case promptTooLong(tokens: Int, context: Int)
    /// maxTokens past what the context leaves after the prompt.
    case exceedsContext(prompt: Int, maxTokens: Int, context: Int)
    /// The queue is full (the server answers 429).
    case queueFull(limit: Int)
    /// The generator is shutting down or stopped after a failure (the server answers 503).
    case unavailable(String)
    /// The request's timeout passed before it started.
    case timedOut(seconds: Double)

    public var description: String {
        switch self {
        case let .invalidRequest(m): return m
        case let .promptTooLong(t, c):
            return "the prompt has \(t) tokens; the context holds \(c), and at least one must be left to generate"
        case let .exceedsContext(p, m, c):
            return "max tokens \(m) past the context: the prompt has \(p) tokens of \(c), so at most \(c - p) can be generated"
        case let .queueFull(n): return "busy: \(n) requests are already queued; retry later"
        case let .unavailable(m): return "unavailable: \(m)"
        case let .timedOut(s): return "the request's timeout of \(s) s passed before it started"
        }
    }
}
