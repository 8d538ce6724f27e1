import ActSparse
import ActSparseDistributed
import Foundation
import Synchronization

/// Text generation over a loaded (possibly distributed) model: prompts or chat turns in, text out as it is
/// decoded, with usage and timing. The CLI's `generate` and `chat` and the HTTP server are its clients.
///
/// One model decodes one request at a time (batch 1). Requests wait in a bounded queue; a *driving thread*
/// runs them (`serveQueue()`): the thread that started MPI under mpirun (MPI is initialised FUNNELED), or a
/// thread of its own for `load(model:options:)`. `run(_:parameters:onText:)` runs one request synchronously on
/// the calling thread instead (the CLI).
///
/// ```swift
/// let generator = try Generator.load(model: "smollm2", options: .init(sparsity: .dense))
/// for try await event in try generator.generate(.chat([ChatMessage(.user, "Name three rivers.")]),
///                                               parameters: GenerationParameters(maxTokens: 64)) {
///     if case .text(let t) = event { print(t, terminator: "") }
///     if case .finished(let r) = event { print("\n\(r.usage.completionTokens) tokens, \(r.finishReason)") }
/// }
/// ```
public final class Generator: @unchecked Sendable {
    /// The model on every rank; this generator drives it from rank 0.
    public let llm: DistributedLlama
    let model: LlamaModel
    /// The name clients use for this model (`/v1/models`).
    public let name: String
    /// The model's chat turns, if it has any (nil: only text prompts).
    public let template: ChatTemplate?
    /// The sparsity every request decodes with.
    public let plan: SparsityPlan
    /// A base (not instruction-tuned) model continues text: chat turns are not what it learned, it may loop.
    /// Known from the catalog, else guessed from a GGUF without a chat template.
    public var isBaseModel: Bool {
        if let e = ModelCatalog.entry(at: llm.gguf.path) { return !e.instructionTuned }
        return template?.fromFile != true
    }
    /// The context every rank agreed on.
    public var context: Int { llm.context }
    public var tokenizer: Tokenizer { model.tokenizer }

    /// The tokenizer keeps a cache: encoding is serialised (requests are tokenized on the caller's thread).
    let encoding = Mutex(())
    let queue: JobQueue
    /// Whole-logits scratch for the repeat penalty: [vocab]
    let penalized: UnsafeMutablePointer<Float>

    /// A generator over `llm` (rank 0), decoding every request with `plan` (thresholds from `table`; dense
    /// needs none). `queueLimit` requests may wait while one runs.
    public init(llm: DistributedLlama, name: String, plan: SparsityPlan, table: ThresholdTable?,
                thresholdsPath: String = "thresholds", queueLimit: Int = 16) throws {
        guard let model = llm.model else {
            throw GeneratorError.unavailable("a Generator drives the model from rank 0; rank \(llm.comm.rank) follows")
        }
        self.llm = llm
        self.model = model
        self.name = name
        self.plan = plan
        template = try? ChatTemplate(gguf: llm.gguf)
        queue = JobQueue(limit: max(0, queueLimit))
        penalized = .allocate(capacity: llm.config.vocab)
        try llm.setPlan(plan, table: table, path: thresholdsPath)
    }

    deinit { penalized.deallocate() }

    // MARK: Prompts

    /// Token ids of a prompt, checked against the context and `parameters` (nothing runs).
    public func tokens(for prompt: Prompt, parameters p: GenerationParameters) throws -> [Int32] {
        if let problem = p.problem() { throw GeneratorError.invalidRequest(problem) }
        let ids: [Int32]
        switch prompt {
        case .tokens(let t):
            guard let bad = t.first(where: { $0 < 0 || Int($0) >= llm.config.vocab }) else { ids = t; break }
            throw GeneratorError.invalidRequest("token id \(bad) outside the vocabulary 0..<\(llm.config.vocab)")
        case .text(let s):
            ids = encoding.withLock { _ in model.tokenizer.encode(s) }
        case .chat(let messages):
            guard let template else {
                throw GeneratorError.invalidRequest("\(name) has no chat template: send a text prompt (/v1/completions)")
            }
            guard !messages.isEmpty else { throw GeneratorError.invalidRequest("messages must hold at least one message") }
            ids = encoding.withLock { _ in template.encode(messages, tokenizer: model.tokenizer) }
        }
        guard !ids.isEmpty else { throw GeneratorError.invalidRequest("the prompt has no tokens") }
        guard ids.count < context else { throw GeneratorError.promptTooLong(tokens: ids.count, context: context) }
        if let m = p.maxTokens, m > context - ids.count {
            throw GeneratorError.exceedsContext(prompt: ids.count, maxTokens: m, context: context)
        }
        return ids
    }

    // MARK: One request on the calling thread

    /// Runs one request on this (the driving) thread: `onText` gets the text as it is decoded. Stops early
    /// when `isCancelled` turns true (checked every token) or at `deadline` (Timing.now() nanoseconds).
    public func run(_ prompt: Prompt, parameters p: GenerationParameters = .init(),
                    onText: (String) throws -> Void) throws -> GenerationResult {
        try run(tokens: tokens(for: prompt, parameters: p), parameters: p, deadline: p.timeout.map(Generator.deadline),
                onText: onText)
    }

    static func deadline(_ seconds: Double) -> UInt64 { Timing.now() &+ UInt64(min(seconds, 1e9) * 1e9) }

    /// `onLogits` sees the whole logits of every step (rank 0; it makes every step gather them).
    public func run(tokens ids: [Int32], parameters p: GenerationParameters, deadline: UInt64? = nil,
                    isCancelled: () -> Bool = { false },
                    onLogits: ((UnsafePointer<Float>, Int) -> Void)? = nil,
                    onText: (String) throws -> Void) throws -> GenerationResult {
        let vocab = llm.config.vocab, tokenizer = model.tokenizer
        let limit = min(p.maxTokens ?? Int.max, context - ids.count)
        guard limit >= 1 else { throw GeneratorError.promptTooLong(tokens: ids.count, context: context) }
        var sampler = p.sampler
        let whole = onLogits != nil || p.repeatPenalty != 1
        var recent = Array(ids.suffix(p.repeatWindow))
        /// The next token from the whole logits (penalised copy when asked).
        func pick(_ logits: UnsafeMutablePointer<Float>) throws -> Int32 {
            onLogits?(logits, vocab)
            guard p.repeatPenalty != 1 else { return try sampler.sample(logits, count: vocab) }
            penalized.update(from: logits, count: vocab)
            for t in Set(recent) {
                let v = penalized[Int(t)]
                penalized[Int(t)] = v > 0 ? v / p.repeatPenalty : v * p.repeatPenalty
            }
            return try sampler.sample(penalized, count: vocab)
        }
        var usage = GenerationUsage()
        usage.promptTokens = ids.count
        model.reset()
        var next: Int32 = 0
        usage.prefillSeconds = try Timing.seconds {
            next = whole ? try pick(try llm.prefill(ids)) : try llm.prefill(ids, sampler: &sampler)
        }
        llm.resetStats()
        model.decodeNanos = (0, 0, 0, 0)
        var generated: [Int32] = [], text = ""
        var utf8 = TextStream(), stops = StopMatcher(p.stop)
        var finish = FinishReason.length
        let t0 = Timing.now()
        while true {
            if !p.ignoreEndOfSequence && (next == tokenizer.eos || tokenizer.isControl(next)) { finish = .stop; break }
            generated.append(next)
            if p.repeatPenalty != 1 && p.repeatWindow > 0 {
                recent.append(next)
                if recent.count > p.repeatWindow { recent.removeFirst() }
            }
            let (release, stopped) = stops.push(utf8.push(tokenizer.bytes(of: next)))
            if !release.isEmpty { text += release; try onText(release) }
            if stopped { finish = .stop; break }
            if generated.count >= limit { finish = .length; break }
            if isCancelled() { finish = .cancelled; break }
            if let deadline, Timing.now() >= deadline { finish = .timeout; break }
            let token = next
            next = whole ? try pick(try llm.decode(token)) : try llm.decode(token, sampler: &sampler)
            usage.decodeSteps += 1
        }
        usage.decodeSeconds = Double(Timing.now() - t0) * 1e-9
        if finish != .stop {
            let rest = stops.flush()
            if !rest.isEmpty { text += rest; try onText(rest) }
        }
        usage.completionTokens = generated.count
        usage.realizedSparsity = usage.decodeSteps > 0 ? llm.realizedSiteSparsity : [0, 0, 0, 0]
        return GenerationResult(text: text, tokens: generated, finishReason: finish, usage: usage)
    }
}
