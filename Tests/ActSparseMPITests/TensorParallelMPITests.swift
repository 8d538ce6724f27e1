import ActSparse
import ActSparseTestSupport
import Foundation
import Testing

/// The sharded model under mpirun against one rank: logits bit for bit in gather mode (1, 2, 3 ranks; 3 ranks
/// on 2 KV heads splits query heads and replicates KV heads), the same text in reduce mode, and clear refusals.
@Suite("tensor parallelism under mpirun", .serialized, Requires.mpirun)
struct TensorParallelMPITests {
    /// 4 heads of 32 over 2 KV heads, hidden 128 (4 slices of 32 columns at most), 2 layers
    static let model: String? = {
        var t = TinyGGUF()
        (t.hidden, t.intermediate, t.heads, t.kvHeads) = (128, 256, 4, 2)
        return try? TinyGGUF.write(t.bytes(), name: "tp")
    }()

    func checksum(_ r: MPILaunch.Result) -> String? {
        r.err.split(separator: "\n").first { $0.hasPrefix("logits checksum") }.map { String($0.split(separator: " ")[2]) }
    }

    func generate(_ model: String, ranks: Int?, extra: [String]) throws -> MPILaunch.Result {
        try MPILaunch.run(["generate", "--model", model, "--sparsity", "0", "--tokens", "12", "--prompt", "the the",
                           "--no-dense-baseline", "--threads", "1", "--checksum"] + extra, ranks: ranks, timeout: 60)
    }

    @Test("gather mode: the same logits bits and text on 1, 2 and 3 ranks, whole-model and MLP-only sharding")
    func gatherBitIdentical() throws {
        let model = try #require(Self.model)
        let one = try generate(model, ranks: nil, extra: [])
        #expect(one.status == 0, "\(one.err)")
        let sum = try #require(checksum(one), "\(one.err)")
        for ranks in [2, 3] {
            for shard in ["model", "mlp"] {
                let r = try generate(model, ranks: ranks, extra: ["--mode", "gather", "--shard", shard])
                #expect(r.status == 0, "\(ranks) ranks, \(shard): \(r.err)")
                #expect(checksum(r) == sum, "\(ranks) ranks, \(shard): \(r.err)")
                #expect(r.out == one.out, "\(ranks) ranks, \(shard)")
                #expect(r.err.contains("\(ranks) rank(s)") && r.err.contains("shard \(shard)"), "\(r.err)")
            }
        }
    }

    @Test("every family (Llama, Qwen2 biases, Gemma-3 norms and windows): gather logits bit-identical on 2 and 3 ranks, reduce the same text; k-quant output blocks too coarse to cut fall back to columns",
          arguments: ["llama", "qwen2", "gemma3"])
    func families(_ arch: String) throws {
        for mix in ["q8_0", "q4_k_m"] {
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("tp-\(arch)-\(mix)-\(UUID()).gguf").path
            defer { try? FileManager.default.removeItem(atPath: path) }
            let w = try MPILaunch.run(["synth", "--arch", arch, "--preset", "tiny", "--types", mix, "--out", path])
            #expect(w.status == 0, "\(w.err)")
            let one = try generate(path, ranks: nil, extra: [])
            let sum = try #require(checksum(one), "\(one.err)")
            // Tiny: intermediate 512 in 256-blocks (q4_k_m) splits over 2 ranks at most.
            for ranks in mix == "q8_0" ? [2, 3] : [2] {
                let g = try generate(path, ranks: ranks, extra: ["--mode", "gather"])
                #expect(checksum(g) == sum && g.out == one.out, "\(arch) \(mix) \(ranks) ranks gather: \(g.err)")
                let r = try generate(path, ranks: ranks, extra: ["--mode", "reduce"])
                #expect(r.status == 0 && r.out == one.out, "\(arch) \(mix) \(ranks) ranks reduce: \(r.err)")
                // 4 heads of 64 over 256-blocks: one block of heads, so the output projection goes by columns.
                if mix == "q4_k_m" { #expect(r.err.contains("output columns"), "\(r.err)") }
            }
        }
    }

    @Test("calibrate with probe, budget and free-running check on 2 and 3 ranks (3: KV heads replicated) writes one rank's file; the probe to float precision",
          arguments: ["llama", "gemma3"])
    func calibrate(_ arch: String) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tpcal-\(arch)-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let model = dir + "/m.gguf"
        let w = try MPILaunch.run(["synth", "--arch", arch, "--preset", "tiny", "--types", "q8_0", "--out", model])
        #expect(w.status == 0, "\(w.err)")
        let args = ["calibrate", "--model", model, "--text", RealModel.calibrationRegisters, "--tokens", "512", "--chunk", "64",
                    "--probe-tokens", "64", "--held-out", "160", "--max-delta-nll", "0.1", "--threads", "1"]
        let one = try MPILaunch.run(args + ["--out", dir + "/1.json"], timeout: 120)
        #expect(one.status == 0, "\(one.err)")
        var t1 = try ThresholdTable.load(dir + "/1.json")
        #expect(t1.heldOut?.denseText != nil && t1.budget != nil)
        let e1 = try #require(t1.outputError).flatMap { $0.flatMap { $0 } }
        t1.outputError = nil
        for ranks in [2, 3] {
            let r = try MPILaunch.run(args + ["--out", dir + "/\(ranks).json"], ranks: ranks, timeout: 120)
            #expect(r.status == 0, "\(ranks) ranks: \(r.err)")
            var t = try ThresholdTable.load(dir + "/\(ranks).json")
            let e = try #require(t.outputError).flatMap { $0.flatMap { $0 } }
            t.outputError = nil
            // Thresholds, per-site bytes (a replicated KV head counted once), held-out paths, texts, budget.
            #expect(t == t1, "\(arch), \(ranks) ranks: \(String(describing: t.budget)) vs \(String(describing: t1.budget))")
            let worst = zip(e, e1).map { abs($0 - $1) / max(abs($1), 1e-12) }.max() ?? .infinity
            #expect(e.count == e1.count && e1.contains { $0 > 0 } && worst < 1e-5, "\(arch), \(ranks) ranks: probe differs by \(worst)")
        }
    }

    @Test("reduce mode: one all-reduce per block, the same greedy text as one rank on 2 and 3 ranks; more ranks than heads is refused by every rank together, in one line")
    func reduce() throws {
        let model = try #require(Self.model)
        let one = try generate(model, ranks: nil, extra: [])
        for ranks in [2, 3] {
            let r = try generate(model, ranks: ranks, extra: ["--mode", "reduce"])
            #expect(r.status == 0, "\(r.err)")
            #expect(r.out == one.out, "1 rank: \(one.out)\n\(ranks) ranks: \(r.out)")
            // Per token: the header, the attention block's and the MLP's all-reduce per layer (2 layers), the argmax.
            let line = r.err.split(separator: "\n").first { $0.hasPrefix("communication") }.map(String.init) ?? ""
            #expect(line.contains("per token 6.0 collectives"), "\(line)")
        }
        let five = try generate(model, ranks: 5, extra: ["--mode", "reduce"])
        #expect(five.status != 0 && five.status != 124)
        // Every rank refuses together (rank 0's verdict through the status word): one line, a clean exit, no
        // MPI_Abort racing the other ranks' messages.
        let lines = five.err.split(separator: "\n").filter { $0.contains("at most 4 ranks") }
        #expect(lines.count == 1 && !five.err.contains("MPI_ABORT"), "\(five.err)")
    }

    @Test("sampling picks from candidates gathered across ranks: the same text as one rank with the same seed")
    func sampling() throws {
        let model = try #require(Self.model)
        let args = ["generate", "--model", model, "--sparsity", "0", "--tokens", "16", "--prompt", "the",
                    "--no-dense-baseline", "--threads", "1", "--temperature", "1.5", "--top-p", "0.9", "--seed", "7"]
        let one = try MPILaunch.run(args, timeout: 60)
        for ranks in [2, 3] {
            let r = try MPILaunch.run(args + ["--mode", "gather"], ranks: ranks, timeout: 60)
            #expect(r.status == 0, "\(r.err)")
            #expect(!one.out.isEmpty && r.out == one.out, "1 rank: \(one.out)\n\(ranks) ranks: \(r.out)")
        }
    }

    @Test("launch/scaling --whole-model runs from a given binary with bash, mpirun and python3: CSV columns per layout, a PNG",
          .enabled(if: MPILaunch.which("python3") != nil, "python3 not found"))
    func scalingScript() throws {
        let model = try #require(Self.model)
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("scaling-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        let (status, log) = try MPILaunch.script(
            "launch/scaling", ["--whole-model", "--model", model, "--ranks", "1,2", "--threads", "1", "--sparsity", "0",
                               "--tokens", "2", "--repeats", "1", "--out", out], timeout: 240)
        #expect(status == 0, "\(log)")
        let csv = try String(contentsOfFile: out + "/scaling-model.csv", encoding: .utf8).split(separator: "\n")
        let header = csv.first.map { $0.split(separator: ",").map(String.init) } ?? []
        for column in ["ranks", "threads", "tokens_per_s", "speedup_vs_1x1", "model_ms", "comm_pct", "rss_vs_1_rank"] {
            #expect(header.contains(column), "\(header)")
        }
        #expect(csv.count == 3, "one row per layout: \(csv)")
        let png = try Data(contentsOf: URL(fileURLWithPath: out + "/scaling-model.png"))
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]), "a PNG")
        #expect(log.contains("fitted:") && log.contains("projection at sparsity 0.00"), "\(log)")
    }
}
