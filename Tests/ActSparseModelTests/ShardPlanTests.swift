import ActSparse
import ActSparseDistributed
import Testing

@Suite("shard plans")
struct ShardPlanTests {
    @Test("slices cover every column once, in order, aligned, balanced within one block",
          arguments: [(11008, 2, 32), (11008, 3, 128), (4096, 3, 32), (37, 2, 32), (289, 3, 32), (100, 4, 16),
                      (1536, 3, 64), (576, 7, 32)])
    func covers(total: Int, ranks: Int, align: Int) throws {
        let p = try ShardPlan(total: total, ranks: ranks, align: align)
        #expect(p.slices.count == ranks)
        #expect(p.slices.first!.lowerBound == 0 && p.slices.last!.upperBound == total)
        for r in 1..<ranks { #expect(p.slices[r].lowerBound == p.slices[r - 1].upperBound) }
        for s in p.slices.dropLast() { #expect(s.upperBound % align == 0, "\(p)") }
        let sizes = p.counts
        #expect(sizes.min()! > 0)
        #expect(sizes.max()! - sizes.dropLast().min()! <= align, "unbalanced \(p)")
    }

    @Test("more ranks than blocks is a typed error naming both numbers")
    func tooManyRanks() {
        do {
            _ = try ShardPlan(total: 40, ranks: 3, align: 32)
            Issue.record("3 ranks accepted for 2 blocks")
        } catch {
            #expect("\(error)".contains("at most 2 ranks") && "\(error)".contains("3 ranks"))
        }
    }
}
