import ActSparse
import ActSparseTestSupport
import Foundation
import Testing

/// Byte-level BPE in O(n log n): the heap-and-linked-list merge equals its plain twin on many strings, and
/// adversarial texts (long runs without spaces, emoji with combining marks, random bytes) finish quickly.
@Suite("tokenizer on long and adversarial text", .serialized, Requires.model)
struct TokenizerScalingTests {
    static func tokenizer() throws -> Tokenizer {
        try Tokenizer(gguf: try GGUFFile(path: try #require(RealModel.path)))
    }

    @Test("the fast merge equals the plain twin: 2 000 random pieces of words, digits, punctuation, UTF-8")
    func equalsTwin() throws {
        let tok = try Self.tokenizer()
        var rng = SplitMix(seed: 5)
        let alphabet = Array("etaoinshrdlu ETAOIN.,;!?'0123456789-_()[]{}éüß漢字🙂\u{301}\n\t")
        var mismatches: [String] = []
        for _ in 0..<2000 {
            let len = 1 + Int(rng.next() % 40)
            let piece = String((0..<len).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] })
            let key = Array(piece.utf8)
            if tok.bpeSymbols(key) != tok.bpeSymbolsReference(key) { mismatches.append(piece) }
        }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(5))")
    }

    @Test("1 MB of one letter, of punctuation, of emoji with combining marks, and of random bytes: each in under a second of CPU",
          arguments: ["letter", "punctuation", "emoji", "random"])
    func adversarial(kind: String) throws {
        let tok = try Self.tokenizer()
        var rng = SplitMix(seed: 9)
        let text: String
        switch kind {
        case "letter": text = String(repeating: "a", count: 1 << 20)
        case "punctuation": text = String(repeating: "!?.,", count: 1 << 18)
        case "emoji": text = String(repeating: "🙂\u{301}\u{302}e\u{301}", count: 1 << 17)
        default: text = String(decoding: (0..<(1 << 20)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }, as: UTF8.self)
        }
        // This thread's CPU time: other suites run in parallel on the same cores and must not count.
        func cpuSeconds() -> Double {
            var t = timespec()
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
            return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
        }
        let t0 = cpuSeconds()
        let ids = tok.encode(text)
        let seconds = cpuSeconds() - t0
        #expect(!ids.isEmpty)
        #expect(seconds < 1, "\(kind): \(text.utf8.count) bytes took \(seconds) s")
        if kind != "random" { #expect(tok.decode(ids) == text, "\(kind): decode(encode(x)) differs") }
    }
}
