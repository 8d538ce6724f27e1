import Foundation

/// Holds back streamed text that could be the start of a stop string, so that a stop string split over
/// several tokens is never shown (OpenAI's and llama.cpp's behaviour).
public struct StopMatcher: Sendable {
    public let stops: [String]
    /// Text received but not yet released.
    var pending = ""

    public init(_ stops: [String]) { self.stops = stops }

    /// Adds `text`; returns what can be released and whether a stop string was found (then the text before it
    /// is released and the rest dropped).
    public mutating func push(_ text: String) -> (release: String, stopped: Bool) {
        guard !stops.isEmpty else { return (text, false) }
        pending += text
        if let cut = stops.compactMap({ pending.range(of: $0)?.lowerBound }).min() {
            let out = String(pending[..<cut])
            pending = ""
            return (out, true)
        }
        // Keep the longest suffix that is a proper prefix of some stop string.
        var keep = 0
        for s in stops {
            for n in stride(from: min(s.count - 1, pending.count), to: 0, by: -1) where n > keep {
                if pending.hasSuffix(String(s.prefix(n))) { keep = n; break }
            }
        }
        let out = String(pending.dropLast(keep))
        pending = String(pending.suffix(keep))
        return (out, false)
    }

    /// The held-back text at the end of a generation that hit no stop string.
    public mutating func flush() -> String {
        defer { pending = "" }
        return pending
    }
}
