import ActSparse
import Foundation
import Testing

/// The short version of launch/soak: many tokens, prompts in turn, context reused; RssAnon flat after warm-up.
@Suite("soak", .serialized, Requires.model)
struct SoakTests {
    @Test("1 200 tokens in one process: anonymous RSS grows < 1 % after one cycle of prompts (1 and 2 ranks)",
          arguments: [1, 2])
    func flatMemory(ranks: Int) throws {
        if ranks > 1 { try #require(MPILaunch.mpirun != nil, "2 ranks need mpirun") }
        let model = try #require(RealModel.path)
        let r = try MPILaunch.run(["soak", "--model", model, "--sparsity", "0", "--tokens", "1200", "--per-prompt", "50",
                                   "--sample-every", "100", "--max-growth", "1", "--threads", "1"],
                                  ranks: ranks == 1 ? nil : ranks, timeout: 300)
        #expect(r.status == 0, "\(r.out)\n\(r.err)")
        let summary = r.out.split(separator: "\n").first { $0.hasPrefix("soak: ") } ?? ""
        #expect(summary.contains("1200 tokens on \(ranks) rank(s)"), "\(r.out)")
        #expect(r.out.split(separator: "\n").filter { $0.hasPrefix("rank ") }.count == ranks, "\(r.out)")
    }
}
