import ActSparse
import ActSparseTestSupport
import Foundation
import Testing

/// SmolLM2's tokenizer against ids from an independent implementation (Hugging Face `tokenizers` fed the GGUF's
/// own vocabulary and merges by Golden/make-smollm2-tokens.py; its output is Golden/smollm2-tokens.json).
@Suite("tokenizer golden ids", Requires.model)
struct TokenizerGoldenTests {
    struct Case: Decodable { var text: String; var ids: [Int32]; var ids_specials: [Int32]? }
    struct File: Decodable { var model: String; var cases: [Case] }

    @Test("≥ 20 varied strings: digits, whitespace runs, unicode, code, chat markers — plain and with control tokens")
    func matchesHuggingFace() throws {
        let url = Repository.root.appendingPathComponent("Tests/ActSparseModelTests/Golden/smollm2-tokens.json")
        let golden = try JSONDecoder().decode(File.self, from: Data(contentsOf: url))
        #expect(golden.cases.count >= 20)
        let tok = try Tokenizer(gguf: try GGUFFile(path: try #require(RealModel.path)))
        for c in golden.cases {
            #expect(tok.encode(c.text) == c.ids, "\(c.text.debugDescription)")
            #expect(tok.decode(c.ids) == c.text, "decode \(c.text.debugDescription)")
            if let withSpecials = c.ids_specials {
                #expect(tok.encode(c.text, specials: true) == withSpecials, "specials \(c.text.debugDescription)")
                #expect(withSpecials != c.ids, "control tokens must differ from their spelling as text")
            }
        }
    }
}
