import ActSparse

/// How one generation samples and when it stops. The defaults are greedy decoding until the context is full.
public struct GenerationParameters: Sendable, Equatable {
    /// Tokens to generate at most (nil: until the context is full). More than the context leaves is refused.
    public var maxTokens: Int?
    /// 0: greedy (the most likely token every step).
    public var temperature: Float = 0
    /// Nucleus mass: the smallest set of tokens whose probability reaches it.
    public var topP: Float = 1
    /// Keep only the k most likely tokens (0: no limit).
    public var topK: Int = 0
    /// Keep tokens at least this fraction as likely as the most likely one (0: no limit).
    public var minP: Float = 0
    /// Divides positive (multiplies negative) logits of tokens seen in the last `repeatWindow` tokens, as
    /// llama.cpp's `--repeat-penalty` (1: off). Needs the whole logits on rank 0 each step.
    public var repeatPenalty: Float = 1
    public var repeatWindow = 64
    public var seed: UInt64 = 1
    /// Generation ends before the first of these strings; the string itself is not returned.
    public var stop: [String] = []
    /// Keep going past end-of-sequence (for benchmarks that need a fixed token count).
    public var ignoreEndOfSequence = false
    /// Seconds from submission (queue wait included) after which the generation ends with `.timeout`.
    public var timeout: Double?

    public init(maxTokens: Int? = nil, temperature: Float = 0, topP: Float = 1, topK: Int = 0, minP: Float = 0,
                repeatPenalty: Float = 1, seed: UInt64 = 1, stop: [String] = [], timeout: Double? = nil) {
        self.maxTokens = maxTokens
        self.temperature = temperature
        self.topP = topP
        self.topK = topK
        self.minP = minP
        self.repeatPenalty = repeatPenalty
        self.seed = seed
        self.stop = stop
        self.timeout = timeout
    }

    /// Stop strings: at most this many, each at most `maxStopLength` bytes (OpenAI allows 4).
    public static let maxStops = 16, maxStopLength = 256

    /// The first problem with these settings, naming the field as a user wrote it (`what` maps field names).
    public func problem(_ what: (String) -> String = { $0 }) -> String? {
        if let m = maxTokens, m < 1 { return "\(what("maxTokens")) must be ≥ 1, found \(m)" }
        if !(temperature >= 0 && temperature.isFinite) { return "\(what("temperature")) must be a finite value ≥ 0, found \(temperature)" }
        if !(topP > 0 && topP <= 1) { return "\(what("topP")) must be in (0, 1], found \(topP)" }
        if topK < 0 { return "\(what("topK")) must be ≥ 0, found \(topK)" }
        if !(minP >= 0 && minP <= 1) { return "\(what("minP")) must be in [0, 1], found \(minP)" }
        if !(repeatPenalty > 0 && repeatPenalty.isFinite) { return "\(what("repeatPenalty")) must be a finite value > 0, found \(repeatPenalty)" }
        if repeatWindow < 0 { return "\(what("repeatWindow")) must be ≥ 0, found \(repeatWindow)" }
        if stop.count > GenerationParameters.maxStops { return "\(what("stop")) holds \(stop.count) strings, at most \(GenerationParameters.maxStops) allowed" }
        if let s = stop.first(where: { $0.isEmpty || $0.utf8.count > GenerationParameters.maxStopLength }) {
            return "\(what("stop")) strings must be 1...\(GenerationParameters.maxStopLength) bytes, found \(s.utf8.count)"
        }
        if let t = timeout, !(t > 0 && t.isFinite) { return "\(what("timeout")) must be a finite number of seconds > 0, found \(t)" }
        return nil
    }

    var sampler: Sampler { Sampler(temperature: temperature, topP: topP, topK: topK, minP: minP, seed: seed) }
}
