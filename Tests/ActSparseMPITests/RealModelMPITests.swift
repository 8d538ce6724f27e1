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

    @Test("calibrate on 2 ranks (whole-model shards: sketches, probe and budget merged; scoring and the check on the distributed forward) writes one rank's file; 3 ranks the same quantiles",
          Requires.model, Requires.mpirun)
    func calibrateOnRanks() throws {
        let path = try #require(RealModel.path)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cal-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // One thread per rank on both sides: the GEMMs then sum in the same order, so gather mode is bit-identical.
        let full = ["calibrate", "--model", path, "--text", RealModel.calibrationRegisters, "--tokens", "384", "--chunk", "64",
                    "--probe-tokens", "64", "--held-out", "160", "--max-delta-nll", "0.1", "--threads", "1"]
        let one = try MPILaunch.run(full + ["--out", dir + "/1.json"], timeout: 300)
        #expect(one.status == 0, "\(one.err)")
        let t1 = try ThresholdTable.load(dir + "/1.json")
        let two = try MPILaunch.run(full + ["--out", dir + "/2.json"], ranks: 2, timeout: 300)
        #expect(two.status == 0, "\(two.err)")
        let t2 = try ThresholdTable.load(dir + "/2.json")
        #expect(t2.gateUp == t1.gateUp && t2.down == t1.down && t2.attention == t1.attention && t2.output == t1.output)
        #expect(t2.siteBytes == t1.siteBytes && t2.calibrationTokens == t1.calibrationTokens)
        // The held-out scores, the paths, the free-running texts and the budget's pick: the same numbers.
        #expect(t1.heldOut != nil && t1.budget != nil && t2.heldOut == t1.heldOut && t2.budget == t1.budget,
                "1 rank: \(String(describing: t1.budget))\n2 ranks: \(String(describing: t2.budget))")
        // The probe's sums travel as floats: the same relative errors to float precision.
        let e1 = try #require(t1.outputError), e2 = try #require(t2.outputError)
        let flat1 = e1.flatMap { $0.flatMap { $0 } }, flat2 = e2.flatMap { $0.flatMap { $0 } }
        let worst = zip(flat1, flat2).map { abs($0 - $1) / max(abs($0), 1e-12) }.max() ?? .infinity
        #expect(flat1.count == flat2.count && flat1.contains { $0 > 0 } && worst < Self.probeTolerance, "worst relative difference \(worst)")
        #expect(two.out.contains("free-running check") && two.out.contains("budget ≤ +0.10 nats"), "\(two.out)")

        let quantiles = ["calibrate", "--model", path, "--text", RealModel.calibrationRegisters, "--tokens", "384",
                         "--held-out", "0", "--probe-tokens", "0", "--threads", "1"]
        let q1 = try MPILaunch.run(quantiles + ["--out", dir + "/q1.json"], timeout: 300)
        let q3 = try MPILaunch.run(quantiles + ["--out", dir + "/q3.json"], ranks: 3, timeout: 300)
        #expect(q1.status == 0 && q3.status == 0, "\(q1.err)\n\(q3.err)")
        let a = try ThresholdTable.load(dir + "/q1.json"), b = try ThresholdTable.load(dir + "/q3.json")
        // The merged histograms hold every value once.
        #expect(b.gateUp == a.gateUp && b.down == a.down && b.attention == a.attention && b.output == a.output)
    }

    /// Relative difference allowed between a probe's errors on one rank and merged over ranks (float sums).
    static let probeTolerance = 1e-5
}
