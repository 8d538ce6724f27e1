import ActSparse
import Foundation

/// Draws the library's progress updates as one line on stderr, only when stderr is a terminal (logs and tests stay
/// clean).
enum TerminalProgress {
    static let isTerminal = isatty(2) != 0

    /// The handler the commands hand to the library (nil when stderr is not a terminal).
    static var handler: ActSparse.Progress.Handler? {
        guard isTerminal else { return nil }
        return { draw($0) }
    }

    static func draw(_ u: ActSparse.Progress.Update) {
        // A count past its total (or no total) must not make the bar longer than itself.
        let fraction = u.fraction.isFinite ? min(max(u.fraction, 0), 1) : 0
        let width = 24, filled = Int(fraction * Double(width))
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        let amount: String
        switch u.unit {
        case .bytes:
            amount = String(format: "%.0f/%.0f MB, %.0f MB/s", Double(u.done) / 1e6, Double(u.total) / 1e6,
                            Double(u.done) / 1e6 / max(u.seconds, 1e-9))
        case let .items(name): amount = "\(u.done)/\(u.total) \(name)"
        }
        let line = String(format: "\r%@ [%@] %3.0f%% %@, %.1f s", u.label, bar, fraction * 100, amount, u.seconds)
        StandardError.write(line + (u.finished ? "\n" : ""))
    }
}
