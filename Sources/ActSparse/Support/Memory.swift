import Foundation

/// What this process may still allocate, so that loading checks its needs up front and says what is missing
/// instead of being killed half-way (or trapping in an allocator).
public enum Memory {
    /// Bytes available: MemAvailable of /proc/meminfo, lowered to the cgroup's headroom (memory.max − current)
    /// when one is set; nil where neither can be read.
    public static func available() -> Int? {
        var best: Int?
        if let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8),
           let line = text.split(separator: "\n").first(where: { $0.hasPrefix("MemAvailable:") }),
           let kb = line.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) {
            best = kb * 1024
        }
        let cg = "/sys/fs/cgroup/"
        if let maxText = try? String(contentsOfFile: cg + "memory.max", encoding: .utf8),
           let limit = Int(maxText.trimmingCharacters(in: .whitespacesAndNewlines)),
           let curText = try? String(contentsOfFile: cg + "memory.current", encoding: .utf8),
           let current = Int(curText.trimmingCharacters(in: .whitespacesAndNewlines)) {
            best = min(best ?? Int.max, max(0, limit - current))
        }
        return best
    }

    /// Throws unless `needed` bytes (`what`, itemised in `detail`) fit in what is available.
    public static func require(_ needed: Int, for what: String) throws {
        if let avail = available(), needed > avail {
            throw ActSparseError.memory(what: what, needed: needed, available: avail)
        }
    }

    /// A "KEY:  N kB" line of /proc/self/status (VmHWM: peak RSS, RssAnon: anonymous RSS …) in bytes; 0 where it
    /// cannot be read.
    public static func status(_ key: String) -> Double {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        return status(key, in: text)
    }

    /// The "KEY:  N kB" line of `text` (a /proc status file) in bytes; 0 where it is missing or malformed.
    public static func status(_ key: String, in text: String) -> Double {
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(key + ":") }),
              // "VmRSS:\t 1394 kB", and from 10 GB on no space after the tab: split on both.
              let kb = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first.flatMap({ Double($0) })
        else { return 0 }
        return kb * 1024
    }

    /// Peak resident set of this process (VmHWM), bytes.
    public static func peakResident() -> Double { status("VmHWM") }

    /// Resident set of this process now (VmRSS), bytes.
    public static func resident() -> Double { status("VmRSS") }

    public static func describe(_ bytes: Int) -> String {
        bytes >= 1 << 30 ? String(format: "%.2f GiB", Double(bytes) / Double(1 << 30))
            : String(format: "%.1f MiB", Double(bytes) / Double(1 << 20))
    }
}
