import Testing

/// The short version of launch/soak, on one process or under mpirun: `soak` passes its own growth check and
/// reports every rank.
public enum Soak {
    public static func check(ranks: Int) throws {
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
