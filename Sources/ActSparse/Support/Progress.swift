/// Progress of a long library call (loading, calibrating). The library never prints: it hands updates, at most ten a
/// second plus the last, to a handler the caller chose (the CLI draws a bar on a terminal, plain lines elsewhere).
public final class Progress {
    public enum Unit: Sendable { case bytes, items(String) }

    public struct Update: Sendable {
        public let label: String
        public let done: Int, total: Int
        public let unit: Unit
        /// Since the progress started.
        public let seconds: Double
        /// The last update of this progress.
        public let finished: Bool

        public var fraction: Double { min(1, Double(done) / Double(max(1, total))) }
    }

    public typealias Handler = (Update) -> Void

    let label: String, unit: Unit, handler: Handler?
    /// What the work expects to do in all; work that learns its size as it goes (a greedy search) moves it, never
    /// below what is done.
    public var total: Int { didSet { total = max(total, done, 1) } }
    let start = Timing.now()
    public private(set) var done = 0
    var lastReport: UInt64 = 0

    /// `handler` nil (e.g. on ranks other than 0) reports nothing.
    public init(_ label: String, total: Int, unit: Unit, handler: Handler?) {
        self.label = label
        self.total = max(1, total)
        self.unit = unit
        self.handler = handler
    }

    public func advance(_ n: Int) {
        done += n
        guard handler != nil else { return }
        let now = Timing.now()
        if now - lastReport > 100_000_000 { lastReport = now; report(finished: false) }
    }

    /// The last update: whatever the estimate was, the work is all done now.
    public func finish() {
        total = done
        report(finished: true)
    }

    func report(finished: Bool) {
        handler?(Update(label: label, done: done, total: total, unit: unit,
                        seconds: Double(Timing.now() - start) * 1e-9, finished: finished))
    }
}
