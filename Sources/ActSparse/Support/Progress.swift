#if canImport(Glibc)
import Glibc
#endif

/// A one-line progress bar on stderr while loading or calibrating: done / total (MB or items), rate, seconds.
/// Drawn only when stderr is a terminal (logs and tests stay clean), at most ten times a second.
public final class Progress {
    public enum Unit { case bytes, items(String) }
    let label: String, total: Int, unit: Unit, enabled: Bool
    let start = Timing.now()
    var done = 0, lastDraw: UInt64 = 0

    /// `enabled` false (e.g. on ranks other than 0) keeps it silent even on a terminal.
    public init(_ label: String, total: Int, unit: Unit, enabled: Bool = true) {
        self.label = label
        self.total = max(1, total)
        self.unit = unit
        self.enabled = enabled && isatty(2) != 0
    }

    public func advance(_ n: Int) {
        done += n
        guard enabled else { return }
        let now = Timing.now()
        if now - lastDraw > 100_000_000 { lastDraw = now; draw(final: false) }
    }

    public func finish() { if enabled { draw(final: true) } }

    func draw(final: Bool) {
        let seconds = Double(Timing.now() - start) * 1e-9
        let fraction = min(1, Double(done) / Double(total))
        let width = 24, filled = Int(fraction * Double(width))
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        let amount: String
        switch unit {
        case .bytes:
            amount = String(format: "%.0f/%.0f MB, %.0f MB/s", Double(done) / 1e6, Double(total) / 1e6,
                            Double(done) / 1e6 / max(seconds, 1e-9))
        case let .items(name): amount = "\(done)/\(total) \(name)"
        }
        let line = String(format: "\r%@ [%@] %3.0f%% %@, %.1f s", label, bar, fraction * 100, amount, seconds)
        fputs(line + (final ? "\n" : ""), stderr)
    }
}
