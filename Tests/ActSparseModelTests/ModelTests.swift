import ActSparse
import ActSparseCalibration
import ActSparseDistributed
import ActSparseTestSupport
import Foundation
import Testing

/// Engine logits vs the Double reference, relative to the logits' RMS (f32 sums, f16 scales kept exactly).
let maxLogitError: Double = 2e-3

@Suite("GGUF and the Llama model")
struct ModelTests {
    func load(_ path: String, mode: DistributedMLP.Mode = .gather) throws -> DistributedLlama {
        try DistributedLlama(comm: LocalCommunicator(), path: path, mode: mode, threads: 2, context: 64)
    }

    @Test("tiny model: dense decode and prefill logits match a scalar reference forward", arguments: [GGMLType.q4_1, .q4_0, .q8_0, .f16])
    func matchesReference(type: GGMLType) throws {
        var tiny = TinyGGUF()
        tiny.linearType = type
        let path = try TinyGGUF.write(tiny.bytes())
        defer { try? FileManager.default.removeItem(atPath: path) }
        try expectMatchesReference(try load(path), "\(type)")
    }

    @Test("GGUF blocks load into the engine formats without loss", arguments: [GGMLType.q4_1, .q4_0, .q8_0, .f16, .bf16, .f32])
    func lossless(type: GGMLType) throws {
        var tiny = TinyGGUF()
        tiny.linearType = type
        let path = try TinyGGUF.write(tiny.bytes())
        defer { try? FileManager.default.removeItem(atPath: path) }
        let g = try GGUFFile(path: path)
        let t = try g.tensor("blk.1.ffn_down.weight")
        #expect(t.type == type)
        let full = try g.plainWeights(t)
        #expect(full.format == type.engineFormat)
        let slice = try g.plainWeights(t, rows: 32..<96, cols: 17..<50)
        var row = [Float](repeating: 0, count: t.dims[0])
        for o in 0..<t.dims[1] {
            g.dequantizeRow(t, o, into: &row)
            for i in 0..<t.dims[0] {
                #expect(full.weight(i, o).bitPattern == row[i].bitPattern, "\(type) W[\(i), \(o)]")
                if (32..<96).contains(i) && (17..<50).contains(o) {
                    #expect(slice.weight(i - 32, o - 17).bitPattern == row[i].bitPattern)
                }
            }
        }
    }

    @Test("bad files fail with one message naming the file and the problem")
    func badFiles() throws {
        let tiny = TinyGGUF()
        let good = tiny.bytes()
        var cases: [(String, [UInt8], String)] = [
            ("magic", Array("GGML".utf8) + good.dropFirst(4), "bad magic"),
            ("version", Array(good[0..<4]) + [9, 0, 0, 0] + good.dropFirst(8), "unsupported GGUF version"),
            ("truncated", Array(good.prefix(good.count - 4000)), "beyond the file"),
            ("header", Array(good.prefix(100)), "truncated"),
            ("empty", [], "truncated"),
        ]
        cases.append(("type", tiny.bytes(mutateTensors: { ts in ts[3].2 = .bf16; ts[3].3 = [] }).map { $0 }, ""))
        let shape = tiny.bytes(mutateKV: { kv in
            if let i = kv.firstIndex(where: { $0.0 == "llama.feed_forward_length" }) { kv[i].1 = .u32(96) }
        })
        cases.append(("shape", shape, "expected dims [64, 96], found [64, 128]"))
        let missing = tiny.bytes(mutateTensors: { ts in ts.removeAll { $0.0 == "blk.1.ffn_up.weight" } })
        cases.append(("missing", missing, "missing tensor blk.1.ffn_up.weight"))
        for (what, bytes, needle) in cases {
            let path = try TinyGGUF.write(bytes, name: what)
            defer { try? FileManager.default.removeItem(atPath: path) }
            do {
                _ = try load(path)
                if what != "type" { Issue.record("\(what): loaded a bad file") }
            } catch {
                let msg = "\(error)"
                #expect(msg.contains(path), "\(what): \(msg)")
                if !needle.isEmpty { #expect(msg.contains(needle), "\(what): \(msg)") }
            }
        }
        // A NaN scale in a Q4_1 block is named with its tensor.
        let nanScale = tiny.bytes(mutateTensors: { ts in
            if let i = ts.firstIndex(where: { $0.0 == "blk.0.ffn_gate.weight" }) { ts[i].3[0] = 0x00; ts[i].3[1] = 0x7E }
        })
        let nanPath = try TinyGGUF.write(nanScale, name: "nan")
        defer { try? FileManager.default.removeItem(atPath: nanPath) }
        do {
            _ = try load(nanPath)
            Issue.record("loaded a NaN scale")
        } catch {
            #expect("\(error)".contains("blk.0.ffn_gate.weight") && "\(error)".contains("nan"), "\(error)")
        }
        // A tensor type this build does not read (Q2_K = 10) is named by ggml's name and id.
        var raw = good
        let name = Array("token_embd.weight".utf8)
        if let at = (0..<(raw.count - name.count)).first(where: { Array(raw[$0..<($0 + name.count)]) == name }) {
            let typeOffset = at + name.count + 4 + 2 * 8
            raw[typeOffset] = 10
            let path = try TinyGGUF.write(raw, name: "q2k")
            defer { try? FileManager.default.removeItem(atPath: path) }
            #expect(throws: ActSparseError.self) { try GGUFFile(path: path) }
            do { _ = try GGUFFile(path: path) } catch { #expect("\(error)".contains("unsupported type Q2_K (10)"), "\(error)") }
        }
    }

    @Test("a thresholds file for another model is refused, naming both")
    func foreignThresholds() throws {
        let path = try TinyGGUF.write(TinyGGUF().bytes())
        defer { try? FileManager.default.removeItem(atPath: path) }
        let g = try GGUFFile(path: path)
        let c = try LlamaConfig(gguf: g)
        var other = c
        other.layers = 30
        other.name = "SmolLM2"
        let table = ThresholdCalibrator(layers: 30).table(config: other, modelBytes: 1234)
        do {
            try table.check(against: c, modelBytes: g.size, path: "t.json")
            Issue.record("accepted a table for another model")
        } catch {
            #expect("\(error)".contains("t.json") && "\(error)".contains("another model") && "\(error)".contains("30 layers"))
        }
        let own = ThresholdCalibrator(layers: c.layers).table(config: c, modelBytes: g.size)
        try own.check(against: c, modelBytes: g.size, path: "t.json")
    }

    @Test("tokenizer: merges, digits split one by one, control tokens, UTF-8 round trip")
    func tokenizer() throws {
        let path = try TinyGGUF.write(TinyGGUF().bytes())
        defer { try? FileManager.default.removeItem(atPath: path) }
        let tok = try Tokenizer(gguf: try GGUFFile(path: path))
        let id = { (s: String) in Int32(tok.tokens.firstIndex(of: s)!) }
        #expect(tok.encode(" the") == [id("Ġthe")])
        #expect(tok.encode("the") == [id("t"), id("he")])
        #expect(tok.encode("<|im_start|>the<|im_end|>", specials: true) == [1, id("t"), id("he"), 2])
        #expect(!tok.encode("<|im_start|>the").contains(1), "user text must not become control tokens")
        #expect(tok.encode("42") == [id("4"), id("2")])
        for text in ["héllo wörld 123 ✓", "  two  spaces\n\nnew lines\t", "don't we'll", "日本語"] {
            #expect(tok.decode(tok.encode(text)) == text, "\(text)")
        }
        // The BPE cache must not conflate canonically equivalent text (U+037E GREEK QUESTION MARK ≡ ";" as a
        // Swift String): the fuzzer found "x;" cached, then "x\u{37E}" encoded as "x;".
        for (first, second) in [("6;", "6\u{37E}"), ("e\u{301}", "\u{E9}"), ("\u{212B}", "\u{C5}")] {
            _ = tok.encode(first)
            let ids = tok.encode(second)
            #expect(ids.flatMap { tok.bytes(of: $0) } == Array(second.utf8), "\(second.unicodeScalars.map(\.value))")
        }
        var stream = TextStream()
        let bytes = Array("é✓".utf8)
        var out = ""
        for b in bytes { out += stream.push([b]) }
        #expect(out == "é✓")
    }

    @Test("t = 0 sparse decode gives the same logits as a dense MLP, bit for bit (1 and 2 threads)", arguments: [1, 2])
    func zeroThresholdIsDense(threads: Int) throws {
        let path = try TinyGGUF.write(TinyGGUF().bytes())
        defer { try? FileManager.default.removeItem(atPath: path) }
        let sparse = try DistributedLlama(comm: LocalCommunicator(), path: path, mode: .gather, threads: threads,
                                          context: 16)
        try sparse.setThresholds(nil, gateUp: 0, down: 0)  // threshold 0: channels with x = 0 are skipped
        let g = try GGUFFile(path: path)
        let c = try LlamaConfig(gguf: g)
        let dense = try LlamaModel(gguf: g, threads: threads, context: 16) {
            try DenseMLP(gguf: g, layer: $0, config: c, threads: threads)
        }
        for t: Int32 in [4, 99, 250, 7] {
            let a = Array(UnsafeBufferPointer(start: try sparse.decode(t), count: c.vocab))
            let b = Array(UnsafeBufferPointer(start: try dense.decode(t), count: c.vocab))
            #expect(a.map(\.bitPattern) == b.map(\.bitPattern), "token \(t), \(threads) thread(s)")
        }
    }

    @Test("gather and reduce modes give the same logits within tolerance (reduce sums in another order)")
    func gatherAndReduceAgree() throws {
        let path = try TinyGGUF.write(TinyGGUF().bytes())
        defer { try? FileManager.default.removeItem(atPath: path) }
        let a = try load(path, mode: .gather), b = try load(path, mode: .reduce)
        for t: Int32 in [4, 99, 250] {
            let la = Array(UnsafeBufferPointer(start: try a.decode(t), count: a.config.vocab))
            let lb = Array(UnsafeBufferPointer(start: try b.decode(t), count: b.config.vocab))
            let err = zip(la, lb).map { abs($0 - $1) }.max() ?? .infinity
            #expect(err <= 1e-4 * (la.map(abs).max() ?? 0), "token \(t): max |Δlogit| \(err)")
        }
    }
}
