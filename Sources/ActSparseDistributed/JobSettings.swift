import ActSparse

/// What every rank of a job must hold the same before the first collective: the protocol version, the binary,
/// the subcommand and every setting that shapes the protocol or the arithmetic (not the thread count, timeouts or
/// paths, which may differ per node). `Communicator.agree(on:)` compares them; a difference ends the job on every
/// rank with one line naming the setting and both values.
public struct JobSettings: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public let name: String
        /// nil: this rank cannot know it (a file only rank 0 reads); matches any value.
        public let value: String?
    }

    public private(set) var entries: [Entry] = []

    /// Bumped whenever the per-token protocol changes shape.
    public static let protocolVersion = 3
    /// The settings travel in one buffer of this size (a fixed size: ranks that disagree on everything else still
    /// agree on the first message's length).
    public static let wireBytes = 8192
    static let magic: [UInt8] = Array("ACTSPARSE-SETTINGS\n".utf8)

    /// Starts with what every job shares: the protocol version, the binary's build id and the command.
    public init(command: String) {
        add("protocol", "\(JobSettings.protocolVersion)")
        add("actsparse build", "\(BuildInfo.version) \(BuildInfo.buildID)")
        add("command", command)
    }

    public mutating func add(_ name: String, _ value: String?) {
        entries.append(Entry(name: name, value: value))
    }

    public mutating func add(_ name: String, _ value: (some CustomStringConvertible)?) {
        add(name, value.map { "\($0)" })
    }

    /// `name=value` lines (`name` alone: unknown here), after a magic line, padded with zeros to `wireBytes`.
    /// A value too long for the buffer is cut (settings are short; a cut one still compares equal only if equal).
    public func encoded() -> [UInt8] {
        var out = JobSettings.magic
        for e in entries {
            let line = Array((e.name + (e.value.map { "=" + $0.replacingOccurrences(of: "\n", with: " ") } ?? "") + "\n").utf8)
            if out.count + line.count > JobSettings.wireBytes { break }
            out += line
        }
        return out + [UInt8](repeating: 0, count: JobSettings.wireBytes - out.count)
    }

    /// Another rank's settings from the wire; nil if the buffer is not settings at all (another program, or a
    /// binary from before the agreement).
    public static func decode(_ bytes: [UInt8]) -> JobSettings? {
        guard bytes.count == wireBytes, bytes.starts(with: magic) else { return nil }
        let body = bytes[magic.count...].prefix { $0 != 0 }
        var s = JobSettings(entries: [])
        for line in body.split(separator: UInt8(ascii: "\n")) {
            let text = String(decoding: line, as: UTF8.self)
            if let eq = text.firstIndex(of: "=") {
                s.add(String(text[..<eq]), String(text[text.index(after: eq)...]))
            } else {
                s.add(text, nil as String?)
            }
        }
        return s
    }

    init(entries: [Entry]) { self.entries = entries }

    /// The first setting on which `other` (rank `otherRank`'s) differs from these (rank `rank`'s), as one line;
    /// nil when they agree. A setting only one side has counts as a difference; an unknown value matches.
    public func difference(from other: JobSettings?, rank: Int, otherRank: Int) -> String? {
        guard let other else {
            return "rank \(otherRank) sent something that is not actsparse settings (another program, or an actsparse "
                + "from before \(BuildInfo.version)): every rank must run the same actsparse binary"
        }
        let mine = Dictionary(entries.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a })
        let theirs = Dictionary(other.entries.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a })
        // Names in order of appearance on either side: the protocol and the build first, then the command.
        var names: [String] = []
        for e in entries + other.entries where !names.contains(e.name) { names.append(e.name) }
        for name in names {
            let a = mine[name], b = theirs[name]
            if case let (x??, y??) = (a, b), x == y { continue }
            if case (.some(nil), .some) = (a, b) { continue }  // unknown here
            if case (.some, .some(nil)) = (a, b) { continue }  // unknown there
            func show(_ v: String??) -> String { v.map { $0 ?? "?" } ?? "(none)" }
            let (lo, hi) = rank < otherRank ? ((rank, show(a)), (otherRank, show(b))) : ((otherRank, show(b)), (rank, show(a)))
            return "ranks disagree on \(name): rank \(lo.0) has \(lo.1), rank \(hi.0) has \(hi.1) "
                + "(start every rank with the same actsparse and the same settings)"
        }
        return nil
    }
}

/// Ranks that disagree on a setting: every rank throws this with the same line (nothing is in flight, so the job
/// ends cleanly on every rank).
public struct SettingsMismatch: Error, CustomStringConvertible {
    public let description: String
}

extension Communicator {
    /// The first collective of a job: rank 0's settings to every rank (a fixed-size broadcast), each compares them
    /// with its own, the lowest rank that differs sends its settings to all, and every rank throws
    /// `SettingsMismatch` with the same line naming the first setting that differs and both values.
    public func agree(on settings: JobSettings) throws {
        guard size > 1 else { return }
        var wire = isRoot ? settings.encoded() : [UInt8](repeating: 0, count: JobSettings.wireBytes)
        try wire.withUnsafeMutableBytes { try broadcast($0.baseAddress!, bytes: $0.count, root: 0) }
        let rootSettings = JobSettings.decode(wire)
        let differs = !isRoot && settings.difference(from: rootSettings, rank: rank, otherRank: 0) != nil
        // The lowest rank that differs (MAXLOC keeps the smallest index among equal values).
        let verdict = try allReduceMaxLoc(value: differs ? 1 : 0, index: Int32(rank))
        guard verdict.value > 0 else { return }
        let culprit = Int(verdict.index)
        var theirs = rank == culprit ? settings.encoded() : [UInt8](repeating: 0, count: JobSettings.wireBytes)
        try theirs.withUnsafeMutableBytes { try broadcast($0.baseAddress!, bytes: $0.count, root: culprit) }
        // Rank 0's settings were readable where they differ (else every rank would say so): compare as rank 0 does.
        let root = rootSettings ?? settings
        let line = root.difference(from: JobSettings.decode(theirs), rank: 0, otherRank: culprit)
            ?? "rank \(culprit) disagrees with rank 0 on a setting"
        throw SettingsMismatch(description: line)
    }
}
