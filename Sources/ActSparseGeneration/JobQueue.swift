import Foundation
import Synchronization

/// One queued request: its tokens, settings, deadline, where its events go, and whether its consumer left.
final class Job: Sendable {
    let ids: [Int32]
    let parameters: GenerationParameters
    let deadline: UInt64?
    let submitted: UInt64
    let continuation: AsyncThrowingStream<GenerationEvent, Error>.Continuation
    let cancelled = Atomic<Bool>(false)

    init(ids: [Int32], parameters: GenerationParameters, deadline: UInt64?, submitted: UInt64,
         continuation: AsyncThrowingStream<GenerationEvent, Error>.Continuation) {
        self.ids = ids
        self.parameters = parameters
        self.deadline = deadline
        self.submitted = submitted
        self.continuation = continuation
    }
}

/// The bounded queue between the threads that submit requests and the one driving thread.
final class JobQueue: @unchecked Sendable {
    let limit: Int
    private let condition = NSCondition()
    private var jobs: [Job] = []
    /// The job the driving thread runs (nil between jobs).
    private var current: Job?
    /// Set once: no more jobs (nil while open). A failure's message answers later submissions.
    private var closedBecause: GeneratorError?

    init(limit: Int) { self.limit = limit }

    /// Queued plus running.
    var depth: Int { condition.withLock { jobs.count + (current != nil ? 1 : 0) } }

    func push(_ job: Job) throws {
        try condition.withLock {
            if let closedBecause { throw closedBecause }
            guard jobs.count < limit || (current == nil && jobs.isEmpty) else { throw GeneratorError.queueFull(limit: limit) }
            jobs.append(job)
            condition.signal()
        }
    }

    /// The next job, waiting without spinning; nil once closed and drained. Marks the job running.
    func pop() -> Job? {
        condition.withLock {
            current = nil
            while jobs.isEmpty && closedBecause == nil { condition.wait() }
            guard !jobs.isEmpty else { return nil }
            current = jobs.removeFirst()
            return current
        }
    }

    func done() { condition.withLock { current = nil } }

    /// Closes the queue and ends every job now, the running one too (its consumer hears `reason` at once; the
    /// driving thread stops it at its next token, if it gets one).
    func failAll(_ reason: GeneratorError) {
        let dropped: [Job] = condition.withLock {
            if closedBecause == nil { closedBecause = reason }
            condition.broadcast()
            defer { jobs.removeAll() }
            return (current.map { [$0] } ?? []) + jobs
        }
        for j in dropped {
            j.cancelled.store(true, ordering: .relaxed)
            j.continuation.finish(throwing: reason)
        }
    }

    /// No more submissions; queued jobs still run unless `failQueued`, which ends them with `reason`.
    func close(_ reason: GeneratorError, failQueued: Bool) {
        let dropped: [Job] = condition.withLock {
            if closedBecause == nil { closedBecause = reason }
            condition.broadcast()
            guard failQueued else { return [] }
            defer { jobs.removeAll() }
            return jobs
        }
        for j in dropped { j.continuation.finish(throwing: reason) }
    }
}
