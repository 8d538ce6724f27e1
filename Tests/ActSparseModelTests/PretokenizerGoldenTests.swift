import ActSparse
import ActSparseTestSupport
import Foundation
import Testing

/// Llama-3's and Qwen2's pre-tokenizers against Hugging Face `tokenizers` running llama.cpp's regexes
/// (Golden/make-pretokenizer-golden.py): 26 varied strings each, pieces compared exactly.
@Suite("pre-tokenizer golden pieces")
struct PretokenizerGoldenTests {
    struct Case: Decodable { let pre: String; let text: String; let pieces: [String] }
    struct File: Decodable { let cases: [Case] }

    @Test("llama-bpe and qwen2 pieces equal the regex's, and concatenate back to the text")
    func matchesRegex() throws {
        let url = QuantGoldenTests.golden.appendingPathComponent("pretokenizer-pieces.json")
        let cases = try JSONDecoder().decode(File.self, from: Data(contentsOf: url)).cases
        #expect(cases.count >= 50)
        for c in cases {
            let got = try #require(Tokenizer.pretokenize(c.text, preTokenizer: c.pre))
            #expect(got == c.pieces, "\(c.pre) \(c.text.debugDescription)")
            #expect(got.joined() == c.text)
        }
        #expect(Tokenizer.pretokenize("x", preTokenizer: "tekken") == nil)
    }
}
