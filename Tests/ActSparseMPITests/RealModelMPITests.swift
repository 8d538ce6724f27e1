import ActSparse
import ActSparseTestSupport
import Foundation
import Testing

@Suite("SmolLM2 under mpirun", .serialized)
struct RealModelMPITests {
    @Test("gather mode: the same text and logits bits on 1, 2 and 3 ranks (whole model) and 2 (MLPs only); a foreign thresholds file fails on every rank",
          Requires.model, Requires.mpirun)
    func ranksAgree() throws {
        let path = try #require(RealModel.path)
        let thresholds = FileManager.default.temporaryDirectory.appendingPathComponent("t-\(UUID()).json").path
        defer { try? FileManager.default.removeItem(atPath: thresholds) }
        let cal = try MPILaunch.run(["calibrate", "--model", path, "--text", RealModel.calibration, "--tokens", "256",
                                     "--held-out", "0", "--probe-tokens", "0", "--out", thresholds, "--threads", "2"],
                                    timeout: 300)
        #expect(cal.status == 0, "\(cal.err)")
        let args = ["generate", "--model", path, "--thresholds", thresholds, "--sparsity", "0.5", "--tokens", "12",
                    "--prompt", "Once upon a time", "--no-dense-baseline", "--threads", "1", "--mode", "gather"]
        func sum(_ r: MPILaunch.Result) -> Substring? { r.err.split(separator: "\n").first { $0.hasPrefix("logits checksum") } }
        let one = try MPILaunch.run(args + ["--checksum"], timeout: 300)
        #expect(one.status == 0 && sum(one) != nil, "\(one.err)")
        // The whole model sharded (3 ranks: 3 KV heads of 3 query heads each) and the MLPs only.
        for (ranks, shard) in [(2, "model"), (3, "model"), (2, "mlp")] {
            let r = try MPILaunch.run(args + ["--checksum", "--shard", shard], ranks: ranks, timeout: 300)
            #expect(r.status == 0 && r.err.contains("\(ranks) rank(s)"), "\(r.err)")
            #expect(!one.out.isEmpty && one.out == r.out, "1 rank: \(one.out)\n\(ranks) ranks (\(shard)): \(r.out)")
            #expect(sum(r) == sum(one), "\(ranks) ranks (\(shard)): logits differ")
        }
        // A thresholds file made for another model: one clear message, non-zero exit, no hang.
        var t = try ThresholdTable.load(thresholds)
        t.hidden = 999  // a consistent table, made for a model of another width
        try t.save(thresholds)
        let bad = try MPILaunch.run(args, ranks: 2, timeout: 120)
        #expect(bad.status != 0)
        #expect(bad.err.contains("thresholds are for another model"), "\(bad.err)")
    }

    @Test("calibrate on 2 and 3 ranks (whole-model shards, each sketching its share, one reduce) gives one rank's thresholds bit for bit; a budget is refused on several ranks",
          Requires.model, Requires.mpirun)
    func calibrateOnRanks() throws {
        let path = try #require(RealModel.path)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cal-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let base = ["calibrate", "--model", path, "--text", RealModel.calibrationRegisters, "--tokens", "512",
                    "--held-out", "0", "--probe-tokens", "0", "--threads", "1"]
        let one = try MPILaunch.run(base + ["--out", dir + "/1.json"], timeout: 300)
        #expect(one.status == 0, "\(one.err)")
        let t1 = try ThresholdTable.load(dir + "/1.json")
        for ranks in [2, 3] {
            let r = try MPILaunch.run(base + ["--out", dir + "/\(ranks).json"], ranks: ranks, timeout: 300)
            #expect(r.status == 0, "\(r.err)")
            let t = try ThresholdTable.load(dir + "/\(ranks).json")
            // gather mode is bit-identical to one rank, and the merged histograms hold every value once.
            #expect(t.gateUp == t1.gateUp && t.down == t1.down && t.attention == t1.attention && t.output == t1.output,
                    "\(ranks) ranks")
            #expect(t.siteBytes == t1.siteBytes && t.calibrationTokens == t1.calibrationTokens, "\(ranks) ranks")
        }
        let budget = try MPILaunch.run(["calibrate", "--model", path, "--text", RealModel.calibration, "--max-delta-nll", "0.1",
                                        "--out", dir + "/b.json"], ranks: 2, timeout: 120)
        #expect(budget.status != 0 && budget.err.contains("quantiles only"), "\(budget.err)")
    }
}
