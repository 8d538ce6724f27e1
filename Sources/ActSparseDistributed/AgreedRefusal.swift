/// A refusal every rank took together through the status word (a check on inputs every rank shares, decided by
/// rank 0). Nothing is in flight, so the job ends cleanly: rank 0 prints `message`, every rank finalizes and exits
/// non-zero. No MPI_Abort race: one line, from the rank that decided, every time.
public struct AgreedRefusal: Error, CustomStringConvertible {
    /// Rank 0's reason; nil on the other ranks (they only know that rank 0 refused).
    public let message: String?

    public init(message: String?) { self.message = message }

    public var description: String { message ?? "refused by rank 0" }
}

extension Communicator {
    /// Runs `check` on every rank (deterministic on inputs every rank shares, such as a shard plan); rank 0's outcome
    /// decides for all. Rank 0 failed: every rank throws `AgreedRefusal`. Rank 0 succeeded but this rank did not
    /// (its inputs differ): its own error, which ends the job through abort.
    public func agreeOn<T>(_ check: () throws -> T) throws -> T {
        let result = Result { try check() }
        var failed: Int32 = 0
        var reason: String?
        if case let .failure(error) = result { failed = 1; reason = "\(error)" }
        guard try agree(status: failed) == 0 else { throw AgreedRefusal(message: isRoot ? reason : nil) }
        return try result.get()
    }
}
