import ActSparse
import ActSparseDistributed
import ActSparseTestSupport
import Foundation
import Testing

/// Replays every input `launch/fuzz` ever stopped on (Tests/Fuzz/regressions/<target>/) and the seeds, through the
/// same entry points the fuzzer drives: each must load or fail with a typed error, never trap.
@Suite("fuzz regressions")
struct FuzzRegressionTests {
    static let dir = Repository.root.appendingPathComponent("Tests/Fuzz")

    static func inputs(_ target: String) -> [URL] {
        ["regressions", "seeds"].flatMap { kind -> [URL] in
            let d = dir.appendingPathComponent("\(kind)/\(target)")
            let names = (try? FileManager.default.contentsOfDirectory(atPath: d.path)) ?? []
            return names.sorted().map { d.appendingPathComponent($0) }
        }
    }

    @Test("GGUF inputs: header, config, tokenizer, weights and one decode step, or a typed error naming the file")
    func gguf() throws {
        let files = Self.inputs("gguf")
        #expect(files.count >= 3, "seeds missing under \(Self.dir.path)")
        for f in files {
            do {
                let llm = try DistributedLlama(comm: LocalCommunicator(), path: f.path, mode: .gather, threads: 1,
                                               context: 8)
                let model = try #require(llm.model)
                let ids = model.tokenizer.encode("The capital of France is", specials: true)
                try llm.prefill(Array(ids.prefix(4)))
                var sampler = Sampler()
                _ = try sampler.sample(try llm.decode(ids.last ?? 0), count: llm.config.vocab)
            } catch let e as ActSparseError {
                #expect("\(e)".contains(f.lastPathComponent), "\(f.lastPathComponent): \(e)")
            }
        }
    }

    @Test("thresholds inputs: decoded and validated, or a typed error")
    func thresholds() throws {
        let files = Self.inputs("thresholds")
        #expect(files.contains { $0.path.contains("regressions") }, "the layers = -2 regression is missing")
        for f in files {
            do {
                let t = try ThresholdTable.decode(try Data(contentsOf: f), path: f.path)
                for l in 0..<t.layers { _ = t.thresholds(layer: l, gateUp: 0.5, down: 0.99) }
                if t.heldOut != nil {  // a version-2 seed: its budget plan resolves to thresholds for every site
                    let plan = try t.plan(budget: 0.1, path: f.path)
                    #expect(try t.thresholds(plan, path: f.path).count == t.layers)
                }
            } catch let e as ActSparseError {
                #expect("\(e)".contains(f.path))
            }
        }
    }

    @Test("tokenizer inputs: decode(encode(x)) == x for every encodable byte (SmolLM2's BPE; Gemma-3's SentencePiece when present)",
          Requires.model)
    func tokenizer() throws {
        for path in [RealModel.path, RealModel.gemmaPath].compactMap({ $0 }) { try roundTrips(path) }
    }

    func roundTrips(_ path: String) throws {
        let tok = try Tokenizer(gguf: try GGUFFile(path: path))
        for f in Self.inputs("tokenizer") {
            let text = String(decoding: try Data(contentsOf: f), as: UTF8.self)
            for specials in [false, true] {
                // Compared as bytes: a dropped unencodable byte can leave invalid UTF-8 (0xF1 in SmolLM2).
                let back = tok.encodeText(text, specials: specials).flatMap { tok.bytes(of: $0) }
                #expect(back == text.utf8.filter(tok.encodable), "\(path): \(f.lastPathComponent) specials \(specials)")
                if text.utf8.allSatisfy(tok.encodable) {
                    #expect(tok.decode(tok.encodeText(text, specials: specials)) == text, "\(f.lastPathComponent)")
                }
            }
        }
    }
}
