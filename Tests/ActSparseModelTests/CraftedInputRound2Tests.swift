import ActSparse
import ActSparseCalibration
import ActSparseDistributed
import ActSparseTestSupport
import Foundation
import Testing

/// Crafted inputs of the second hardening round: tokenizer metadata that disagrees with the model, files that are
/// not regular files, a NaN norm, JSON errors that say where, metadata that would cost many bytes per byte. Each
/// case was accepted silently, hung or gave a vague message before.
@Suite("crafted input, round 2")
struct CraftedInputRound2Tests {
    let tiny = TinyGGUF()

    func loadError(_ bytes: [UInt8], _ what: String) -> String? { CraftedInputTests().loadError(bytes, what) }

    func replace(_ kv: inout [(String, TinyGGUF.KV)], _ key: String, _ value: TinyGGUF.KV) {
        if let i = kv.firstIndex(where: { $0.0 == key }) { kv[i].1 = value }
    }

    @Test("a token list shorter than the embedding's rows is refused naming both counts")
    func shortTokenList() throws {
        let bytes = tiny.bytes(mutateKV: { kv in
            replace(&kv, "tokenizer.ggml.tokens", .strs(Array(tiny.tokens.dropLast(2))))
            replace(&kv, "tokenizer.ggml.token_type", .i32s((0..<(tiny.vocab - 2)).map { $0 < 3 ? 3 : 1 }))
        })
        let msg = try #require(loadError(bytes, "short"), "a short token list loaded")
        #expect(msg.contains("short-") && msg.contains("has \(tiny.vocab - 2) tokens") && msg.contains("\(tiny.vocab) rows"), "\(msg)")
    }

    @Test("merges without a separating space, or with an empty side, are refused naming the merge")
    func merges() throws {
        for (what, merge) in [("nosep", "Ġt"), ("empty", "Ġt "), ("two", "a b c")] {
            let bytes = tiny.bytes(mutateKV: { kv in replace(&kv, "tokenizer.ggml.merges", .strs(["h e", merge])) })
            let msg = try #require(loadError(bytes, what), "\(what): merge \(merge.debugDescription) loaded")
            #expect(msg.contains("tokenizer.ggml.merges[1]") && msg.contains(merge.debugDescription), "\(what): \(msg)")
        }
    }

    @Test("a NaN in a norm tensor is refused at load, naming the tensor and the file")
    func nanNorm() throws {
        let bytes = tiny.bytes(mutateTensors: { ts in
            if let i = ts.firstIndex(where: { $0.0 == "blk.1.ffn_norm.weight" }) {
                ts[i].3 = TinyGGUF.encode([Float](repeating: .nan, count: tiny.hidden), type: .f32)
            }
        })
        let msg = try #require(loadError(bytes, "nannorm"), "a NaN norm loaded")
        #expect(msg.contains("nannorm-") && msg.contains("tensor blk.1.ffn_norm.weight: element 0 is nan"), "\(msg)")
    }

    @Test("a FIFO, a directory and a device as the model or thresholds file are refused at once, saying what they are",
          .timeLimit(.minutes(1)))
    func notRegularFiles() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("nonreg-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let fifo = dir + "/model.gguf"
        #expect(mkfifo(fifo, 0o600) == 0)
        // Nobody ever writes to the FIFO: a blocking open would hang here (the time limit catches it).
        for (path, kind) in [(fifo, "a FIFO (named pipe)"), (dir, "a directory"), ("/dev/zero", "a character device")] {
            do {
                _ = try GGUFFile(path: path)
                Issue.record("\(path) opened as a model")
            } catch {
                #expect("\(error)".contains("is \(kind), expected a GGUF model file"), "\(error)")
            }
            do {
                _ = try ThresholdTable.load(path)
                Issue.record("\(path) loaded as thresholds")
            } catch {
                #expect("\(error)".contains("is \(kind), expected a thresholds file"), "\(error)")
            }
        }
    }

    @Test("JSON errors in a thresholds file say where: line and column for syntax, the key path for values")
    func jsonPositions() throws {
        let syntax = Data("{\n  \"layers\": 2,\n  \"hidden\": 64x\n}".utf8)
        do { _ = try ThresholdTable.decode(syntax, path: "bad.json"); Issue.record("bad JSON accepted") } catch {
            #expect("\(error)".contains("bad.json") && "\(error)".contains("line 3, column"), "\(error)")
        }
        let path = try TinyGGUF.write(tiny.bytes())
        defer { try? FileManager.default.removeItem(atPath: path) }
        let c = try LlamaConfig(gguf: try GGUFFile(path: path))
        var text = String(decoding: try JSONEncoder().encode(ThresholdCalibrator(layers: c.layers).table(config: c, modelBytes: 1)),
                          as: UTF8.self)
        let first = try #require(text.range(of: "\"down\":[["))
        text.replaceSubrange(first, with: "\"down\":[[\"x\",")
        do { _ = try ThresholdTable.decode(Data(text.utf8), path: "typed.json"); Issue.record("a string threshold accepted") } catch {
            #expect("\(error)".contains("at down[0][0]"), "\(error)")
        }
    }

    @Test("64 MB of one-byte metadata arrays: opening the model peaks near the file's size, not at 24 bytes per byte")
    func metadataMemory() throws {
        let n = GGUFFile.Limits.arrayElements  // 4 Mi elements per array, 16 arrays
        let bytes = tiny.bytes(mutateKV: { kv in
            // Unused keys: arrays (type 9) of u8 (type 0) elements.
            for k in 0..<16 {
                kv.append(("junk.bytes\(k)", .raw(9, [0, 0, 0, 0] + withUnsafeBytes(of: UInt64(n).littleEndian, Array.init)
                    + [UInt8](repeating: 7, count: n))))
            }
        })
        let path = try TinyGGUF.write(bytes, name: "junk")
        defer { try? FileManager.default.removeItem(atPath: path) }
        // The peak RSS of `actsparse tokenize` on it, measured by its parent (python's getrusage of children).
        let probe = "import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
            + "print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
        let python = try #require(MPILaunch.which("python3"), "python3 measures the child's peak RSS")
        let r = try MPILaunch.command([python, "-c", probe, MPILaunch.actsparse, "tokenize", "--model", path, "--text", "the"])
        let fields = r.out.split(separator: "\n").last?.split(separator: " ").compactMap { Int($0) } ?? []
        try #require(fields.count == 2, "\(r.out) \(r.err)")
        #expect(fields[0] == 0, "tokenize failed: \(r.err)")
        let peakMB = fields[1] / 1024
        // The mapped file's metadata pages (64 MB) + the packed copy (64 MB) + the binary; 24 B/element was 1.5 GB.
        #expect(peakMB < 300, "peak RSS \(peakMB) MB for 64 MB of metadata")
    }

    @Test("count options at their extremes end with one line naming the option, never a signal (they trapped or allocated without end)")
    func extremeCounts() throws {
        let path = try TinyGGUF.write(tiny.bytes())
        defer { try? FileManager.default.removeItem(atPath: path) }
        let text = Repository.root.appendingPathComponent("launch/data/eval.txt").path
        let huge = "9223372036854775807", big = "4294967297"
        let cases: [([String], String)] = [
            (["eval", "--model", path, "--text", text, "--tokens=\(huge)"], "--tokens"),
            (["calibrate", "--model", path, "--text", text, "--out", path + ".json", "--probe-tokens=\(huge)"], "--probe-tokens"),
            (["soak", "--model", path, "--per-prompt=\(huge)"], "--per-prompt"),
            (["mlp", "--calib-tokens=\(big)"], "--calib-tokens"),
            (["mlp", "--prefill=\(huge)"], "--prefill"),
            (["bench", "fc", "--ic=\(huge)", "--oc", "64"], "--ic"),
            (["bench", "fc", "--ic", "128", "--oc", "64", "--iterations=\(huge)"], "--iterations"),
            (["generate", "--model", path, "--threads=\(huge)"], "--threads"),
            (["serve", "--model", path, "--threads=\(huge)"], "--threads"),
        ]
        for (args, flag) in cases {
            let r = try MPILaunch.run(args, timeout: 30)
            #expect(r.status != 0 && r.status != 124 && r.status < 128, "\(args): exit \(r.status)\n\(r.err.suffix(300))")
            #expect(r.err.contains(flag) && r.err.split(separator: "\n").count <= 3, "\(args): \(r.err.suffix(300))")
        }
    }

    @Test("actsparse plot with extreme or non-finite points and --y-min: a message, never a trap")
    func plotExtremes() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("plot-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for (k, rows) in ["a,1e308,2", "a,1,nan", "a,-1e300,1\na,2,3", "a,1,inf"].enumerated() {
            try "series,x,y\n\(rows)\n".write(toFile: dir + "/p\(k).csv", atomically: true, encoding: .utf8)
            let r = try MPILaunch.run(["plot", "--points", dir + "/p\(k).csv", "--out", dir + "/p.png"], timeout: 30)
            #expect(r.status != 0 && r.status < 128 && r.err.contains("line 2"), "\(rows): exit \(r.status) \(r.err.suffix(300))")
        }
        try "series,x,y\na,1,2\na,2,3\n".write(toFile: dir + "/ok.csv", atomically: true, encoding: .utf8)
        for yMin in ["-1e308", "nan", "5"] {
            let r = try MPILaunch.run(["plot", "--points", dir + "/ok.csv", "--out", dir + "/p.png", "--y-min=\(yMin)"], timeout: 30)
            #expect(r.status != 0 && r.status < 128 && r.err.contains("--y-min"), "--y-min \(yMin): exit \(r.status) \(r.err.suffix(300))")
        }
        // Negative and tiny values draw (off-scale points land outside the image without a trap).
        try "series,x,y\na,-5,-1e12\na,1e-300,3\n".write(toFile: dir + "/neg.csv", atomically: true, encoding: .utf8)
        let r = try MPILaunch.run(["plot", "--points", dir + "/neg.csv", "--out", dir + "/neg.png"], timeout: 30)
        #expect(r.status == 0, "exit \(r.status) \(r.err.suffix(300))")
    }
}
