import ActSparse
import Foundation

/// Draws the library's progress updates on stderr: one redrawn line with a bar and an ETA on a terminal; plain lines
/// elsewhere (logs, CI), but only for work that runs longer than `quiet` seconds — the first after it, then one every
/// `every` seconds and the last — so short runs (and the tests that read stderr) stay clean.
enum TerminalProgress {
    static let isTerminal = isatty(2) != 0
    static let quiet = 5.0, every = 10.0

    /// The handler the commands hand to the library.
    static var handler: ActSparse.Progress.Handler? {
        if isTerminal { return { draw($0) } }
        let lock = NSLock()
        nonisolated(unsafe) var last: [String: Double] = [:]  // label → seconds of its last plain line
        return { u in
            lock.lock()
            defer { lock.unlock() }
            let previous = last[u.label]
            let due = previous.map { u.seconds - $0 >= every } ?? (u.seconds >= quiet)
            guard due || (u.finished && previous != nil) else { return }
            last[u.label] = u.finished ? nil : u.seconds
            StandardError.write(text(u) + "\n")
        }
    }

    static func draw(_ u: ActSparse.Progress.Update) {
        // A count past its total (or no total) must not make the bar longer than itself.
        let fraction = u.fraction.isFinite ? min(max(u.fraction, 0), 1) : 0
        let width = 24, filled = Int(fraction * Double(width))
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        StandardError.write("\r\(u.label) [\(bar)] " + text(u, withLabel: false) + (u.finished ? "\n" : ""))
    }

    /// "40 % (26/65 chunks of 128 tokens), 12.0 s, about 18 s left".
    static func text(_ u: ActSparse.Progress.Update, withLabel: Bool = true) -> String {
        let fraction = u.fraction.isFinite ? min(max(u.fraction, 0), 1) : 0
        let amount: String
        switch u.unit {
        case .bytes:
            amount = String(format: "%.0f/%.0f MB, %.0f MB/s", Double(u.done) / 1e6, Double(u.total) / 1e6,
                            Double(u.done) / 1e6 / max(u.seconds, 1e-9))
        case let .items(name): amount = "\(u.done)/\(u.total) \(name)"
        }
        var line = (withLabel ? u.label + ": " : "") + String(format: "%3.0f%% %@, %.1f s", fraction * 100, amount, u.seconds)
        if !u.finished && fraction > 0.02 && fraction < 1 {
            line += String(format: ", about %.0f s left", u.seconds * (1 - fraction) / fraction)
        }
        return line
    }
}
