#if canImport(Glibc)
import Glibc
#endif

/// One line to stderr through write(2): for the communicators' last words before they end the job, and the CLI.
/// (C's `stderr` is a mutable global, which Swift 6 will not touch from concurrent code.)
public enum StandardError {
    public static func write(_ text: String) {
        var s = text
        s.withUTF8 { b in
            var off = 0
            while off < b.count {
                let n = Glibc.write(2, b.baseAddress! + off, b.count - off)
                if n <= 0 { return }
                off += n
            }
        }
    }
}

extension String {
    /// A NUL-terminated C buffer as text (what `String(cString:)` did for arrays).
    public init(cBuffer b: [CChar]) {
        self.init(decoding: b.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
