import ActSparse
import ActSparseDistributed
import ActSparseTestSupport
import Foundation
import Testing

/// Every kind of format, with a group that divides the small test shapes.
let mlpFormats = ["f32", "f16", "bf16", "int8sym", "int8asym", "int8group-g32", "int4sym-g64", "int4asym-g128"]
/// Reduce mode sums the ranks' partial outputs in another order: relative to the output's RMS.
let maxReduceModeError: Float = 1e-4

@Suite("distributed MLP", .serialized, Requires.mpirun)
struct DistributedMLPTests {
    /// A small MLP with awkward sizes: H = 384 (3 groups of 128), I = 640 (5 groups), 3 prefill + 4 decode tokens.
    func run(_ format: String, mode: String, ranks: Int?, extra: [String] = [], env: [String: String] = [:]) throws
        -> (MPILaunch.Result, [Float])
    {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("mlp-\(UUID()).f32").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        let r = try MPILaunch.run(
            ["mlp", "--hidden", "384", "--intermediate", "640", "--format", format, "--mode", mode, "--tokens", "4",
             "--prefill", "3", "--calib-tokens", "2", "--sparsity", "0.5", "--threads", "1", "--dump", file] + extra,
            ranks: ranks, timeout: 120, env: env)
        let data = (try? Data(contentsOf: URL(fileURLWithPath: file))) ?? Data()
        return (r, data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) })
    }

    func checksum(_ out: String) -> String? {
        out.split(separator: "\n").first { $0.contains("checksum") }.map { String($0.split(separator: " ").last!) }
    }

    @Test("N ranks equal 1 rank: bit for bit in gather mode, within tolerance in reduce mode", arguments: mlpFormats)
    func ranksAgree(format: String) throws {
        for mode in ["gather", "reduce"] {
            let (single, ref) = try run(format, mode: mode, ranks: nil)
            #expect(single.status == 0, "\(single.err)")
            #expect(ref.count == 7 * 384)
            let rms = (ref.map { $0 * $0 }.reduce(0, +) / Float(max(1, ref.count))).squareRoot()
            #expect(rms > 0)
            for ranks in [1, 2, 3] {
                let (r, out) = try run(format, mode: mode, ranks: ranks)
                #expect(r.status == 0, "\(format) \(mode) \(ranks) ranks: \(r.err)")
                #expect(r.out.contains("\(ranks) rank(s)"))
                if mode == "gather" {
                    #expect(checksum(r.out) == checksum(single.out), "\(format) gather \(ranks) ranks")
                    #expect(out.map(\.bitPattern) == ref.map(\.bitPattern))
                } else {
                    #expect(out.count == ref.count)
                    let worst = zip(out, ref).map { abs($0 - $1) }.max() ?? .infinity
                    #expect(worst <= maxReduceModeError * rms, "\(format) reduce \(ranks) ranks: \(worst) vs rms \(rms)")
                }
            }
        }
    }

    @Test("a failure on any rank of the MLP job ends it quickly, non-zero, naming the rank and step",
          arguments: [(2, "0:kept-h:error"), (2, "1:a:error"), (3, "2:out:error"), (2, "0:kept-h:nan"),
                      (3, "1:out:nan"), (2, "1:kept-h:kill")])
    func failureInjection(ranks: Int, spec: String) throws {
        let (r, _) = try run("int4asym-g128", mode: "gather", ranks: ranks, extra: [], env: ["ACTSPARSE_FAULT": spec])
        #expect(r.status != 0)
        #expect(r.seconds < 10, "took \(r.seconds) s (startup included; the abort itself takes < 1 s here)")
        let parts = spec.split(separator: ":").map(String.init)
        if parts[2] == "kill" {
            #expect(r.err.contains("rank \(parts[0])") || r.err.lowercased().contains("signal"), "\(r.err)")
        } else {
            #expect(r.err.contains("rank \(parts[0])/\(ranks)") && r.err.contains("step \(parts[1])"), "\(r.err)")
        }
        if parts[2] == "nan" { #expect(r.err.contains("nan"), "\(r.err)") }
    }

    @Test("rank 0 rejects a bad configuration for every rank: more ranks than the hidden size can be split into")
    func badConfiguration() throws {
        let r = try MPILaunch.run(["mlp", "--hidden", "32", "--intermediate", "128", "--format", "f32",
                                   "--tokens", "2", "--threads", "1"], ranks: 2, timeout: 60)
        #expect(r.status != 0)
        #expect(r.err.contains("at most 1 ranks"), "\(r.err)")
        let bad = try MPILaunch.run(["mlp", "--format", "int5", "--hidden", "64", "--intermediate", "128"],
                                    ranks: 2, timeout: 60)
        #expect(bad.status != 0 && bad.err.contains("int5"), "\(bad.err)")
    }
}
