import ActSparseDistributed
import ActSparseTestSupport
import Foundation
import Testing

/// From the fault to the end of the job (the run's wall time, startup of ~0.5 s included, must stay below this).
let maxSecondsToEndAfterFault = 5.0

/// Every rank × every protocol step × error / NaN / kill / stall (ACTSPARSE_FAULT): the 2-rank generate job ends
/// non-zero within 5 s, the message names the rank and the step, and no process is left behind.
@Suite("fault injection", .serialized, Requires.mpirun)
struct FaultInjectionTests {
    struct Case: CustomStringConvertible, Sendable {
        var rank: Int, step: FaultInjection.Step, kind: FaultInjection.Kind, mode = "gather", shard = "model"
        var description: String { "rank \(rank) \(step.rawValue) \(kind.rawValue) (\(mode), shard \(shard))" }
    }

    /// Steps where a rank sends floats (where an injected NaN means something): a and out; kept-h on rank 0 when
    /// only the MLPs are sharded (with the whole model sharded every rank thresholds its own copy of h).
    static func sendsFloats(_ rank: Int, _ step: FaultInjection.Step, shard: String = "model") -> Bool {
        step == .a || step == .out || (step == .keptH && rank == 0 && shard == "mlp")
    }

    static let cases: [Case] = {
        var out: [Case] = []
        for rank in 0..<2 {
            for step in FaultInjection.Step.allCases where step != .start {  // start: StartupTests
                for kind in FaultInjection.Kind.allCases where kind != .nan || sendsFloats(rank, step) {
                    out.append(Case(rank: rank, step: step, kind: kind))
                }
            }
        }
        for kind in [FaultInjection.Kind.error, .nan, .stall] {
            out.append(Case(rank: 1, step: .out, kind: kind, mode: "reduce"))
            out.append(Case(rank: 0, step: .a, kind: kind, mode: "reduce"))
            // The MLP-only protocol: rank 0 broadcasts kept channels, the others answer.
            out.append(Case(rank: 0, step: .keptH, kind: kind, shard: "mlp"))
            out.append(Case(rank: 1, step: .out, kind: kind, mode: "reduce", shard: "mlp"))
        }
        return out
    }()

    static let model: String? = try? TinyGGUF.write(TinyGGUF().bytes(), name: "fault")

    @Test("the job ends non-zero within 5 s naming the rank and step; no process left behind", arguments: cases)
    func fault(_ c: Case) throws {
        let model = try #require(Self.model)
        let spec = "\(c.rank):\(c.step.rawValue):\(c.kind.rawValue)"
        let r = try MPILaunch.run(
            ["generate", "--model", model, "--sparsity", "0", "--tokens", "6", "--prompt", "the the the",
             "--no-dense-baseline", "--threads", "1", "--mode", c.mode, "--shard", c.shard, "--comm-timeout", "2",
             // A stall while loading is caught by the load timeout (600 s by default: rank 0 loads more).
             "--load-timeout", c.step == .load ? "2" : "60"],
            ranks: 2, timeout: 30, env: ["ACTSPARSE_FAULT": spec])
        #expect(r.status != 0 && r.status != 124, "\(c): exit \(r.status)\n\(r.err)")
        #expect(r.seconds < maxSecondsToEndAfterFault, "\(c): took \(r.seconds) s\n\(r.err)")
        let err = r.err
        switch c.kind {
        case .error, .nan:
            #expect(err.contains("rank \(c.rank)/2") && err.contains("step \(c.step.rawValue)"), "\(c): \(err)")
            if c.kind == .nan { #expect(err.contains("nan") || err.contains("NaN"), "\(c): \(err)") }
        case .kill:
            #expect(err.contains("rank \(c.rank): fault injection: SIGKILL at step \(c.step.rawValue)"), "\(c): \(err)")
            #expect(err.contains("rank \(c.rank) with PID") || err.lowercased().contains("signal 9"), "\(c): \(err)")
        case .stall:
            // The peer's deadline fires: it names the collective and the stalled rank.
            #expect(err.contains("rank \(1 - c.rank)/2") && err.contains("got no answer within 2.0 s") &&
                    err.contains("rank \(c.rank)"), "\(c): \(err)")
        }
        // Nothing left: no actsparse process still has this model open.
        var left = ""
        for _ in 0..<20 {
            left = try MPILaunch.pgrep(model)
            if left.isEmpty { break }
            usleep(100_000)
        }
        #expect(left.isEmpty, "\(c): processes left behind: \(left)")
    }
}
