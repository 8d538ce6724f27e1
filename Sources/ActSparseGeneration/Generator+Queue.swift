import ActSparse
import Foundation

extension Generator {
    /// Queues a request and returns its event stream: text as it is decoded, then `.finished`. Throws at once
    /// (nothing queued) for a bad request, a full queue (`.queueFull`) or a stopped generator (`.unavailable`).
    /// Ending the iteration early (or cancelling its task) cancels the generation at its next token.
    public func generate(_ prompt: Prompt, parameters p: GenerationParameters = .init()) throws
        -> AsyncThrowingStream<GenerationEvent, Error>
    {
        let ids = try tokens(for: prompt, parameters: p)
        let now = Timing.now()
        let (stream, continuation) = AsyncThrowingStream<GenerationEvent, Error>.makeStream()
        let job = Job(ids: ids, parameters: p, deadline: p.timeout.map(Generator.deadline), submitted: now,
                      continuation: continuation)
        continuation.onTermination = { _ in job.cancelled.store(true, ordering: .relaxed) }
        try queue.push(job)
        return stream
    }

    /// Requests queued or running.
    public var queueDepth: Int { queue.depth }
    /// How many requests may wait while one runs.
    public var queueLimit: Int { queue.limit }

    /// Runs queued requests on this thread until `close()` and the queue is drained. A failure of the model
    /// (a rank lost, a collective timed out) ends the running request and every queued one with
    /// `.unavailable`, refuses new ones, and is rethrown: the distributed state is unknown after it.
    public func serveQueue() throws {
        while let job = queue.pop() {
            defer { queue.done() }
            let c = job.continuation
            if job.cancelled.load(ordering: .relaxed) { c.finish(); continue }
            if let d = job.deadline, Timing.now() >= d {
                c.finish(throwing: GeneratorError.timedOut(seconds: job.parameters.timeout ?? 0))
                continue
            }
            do {
                var result = try run(tokens: job.ids, parameters: job.parameters, deadline: job.deadline,
                                     isCancelled: { job.cancelled.load(ordering: .relaxed) }) { c.yield(.text($0)) }
                result.usage.queueSeconds = Double(Timing.now() - job.submitted) * 1e-9
                    - result.usage.prefillSeconds - result.usage.decodeSeconds
                c.yield(.finished(result))
                c.finish()
            } catch {
                let reason = GeneratorError.unavailable("the model failed: \(error)")
                c.finish(throwing: reason)
                queue.close(reason, failQueued: true)
                throw error
            }
        }
    }

    /// No new requests; `serveQueue()` returns once the queued ones are done (`failQueued`: ends them now with
    /// `.unavailable`).
    public func close(failQueued: Bool = false) {
        queue.close(.unavailable("shutting down"), failQueued: failQueued)
    }

    /// Ends every request now with `.unavailable(reason)`, the running one included, and refuses new ones: the
    /// model is going away under it (the job is being killed). Callable from any thread.
    public func fail(_ reason: String) {
        queue.failAll(.unavailable(reason))
    }
}
