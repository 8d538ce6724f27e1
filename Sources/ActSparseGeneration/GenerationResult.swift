/// Why a generation ended.
public enum FinishReason: String, Sendable, Codable {
    /// End of sequence, an end-of-turn token, or a stop string.
    case stop
    /// `maxTokens` reached, or the context is full.
    case length
    /// The consumer went away (a closed stream, a disconnected client).
    case cancelled
    /// The request's `timeout` passed.
    case timeout
}

/// Token counts and times of one generation (rank 0's clock).
public struct GenerationUsage: Sendable, Equatable, Codable {
    public var promptTokens = 0
    public var completionTokens = 0
    /// Prompt forward (dense) until the first token was known.
    public var prefillSeconds = 0.0
    /// Decode steps after the first token, and their total time.
    public var decodeSteps = 0
    public var decodeSeconds = 0.0
    /// Seconds the request waited in the queue before it started.
    public var queueSeconds = 0.0
    /// Realized sparsity over the decode steps, per site (attention, output, gate/up, down), layer means.
    public var realizedSparsity: [Double] = [0, 0, 0, 0]

    public init() {}

    /// Decode tokens per second (0 without a decode step).
    public var tokensPerSecond: Double { decodeSteps > 0 ? Double(decodeSteps) / max(decodeSeconds, 1e-9) : 0 }
}

/// The end of a generation: everything it returned, why it stopped, and its usage.
public struct GenerationResult: Sendable, Equatable {
    public var text: String
    public var tokens: [Int32]
    public var finishReason: FinishReason
    public var usage: GenerationUsage
}

/// What a generation stream yields: text as it is decoded (complete UTF-8, stop strings held back), then one
/// `.finished` with the result.
public enum GenerationEvent: Sendable, Equatable {
    case text(String)
    case finished(GenerationResult)
}
