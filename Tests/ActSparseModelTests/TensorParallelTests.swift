import ActSparse
import ActSparseDistributed
import ActSparseTestSupport
import Foundation
import Testing

/// Whole-model tensor parallelism: how heads, KV heads and vocabulary are cut (every shape, every rank count),
/// and under mpirun that the sharded model computes what one rank does.
@Suite("tensor parallelism")
struct TensorParallelTests {
    /// The config of a tiny file with these attention shapes.
    func config(hidden: Int, heads: Int, kvHeads: Int) throws -> LlamaConfig {
        var t = TinyGGUF()
        (t.hidden, t.heads, t.kvHeads) = (hidden, heads, kvHeads)
        let path = try TinyGGUF.write(t.bytes(), name: "shard")
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try LlamaConfig(gguf: try GGUFFile(path: path))
    }

    @Test("head plans: every query head once, the KV heads it reads, whole groups while ranks ≤ KV heads, whole output blocks in rows mode, vocabulary covered; too many ranks refused",
          arguments: [(256, 8, 8), (256, 8, 2), (256, 16, 4), (128, 8, 1), (192, 12, 3)])
    func plans(_ shape: (Int, Int, Int)) throws {
        let c = try config(hidden: shape.0, heads: shape.1, kvHeads: shape.2)
        let group = c.heads / c.kvHeads
        for output in [ModelShard.Output.rows, .columns] {
            for block in [32, 256] {
                var fitted = 0
                for ranks in 1...(c.heads + 1) {
                    let shards = try? (0..<ranks).map {
                        try ModelShard(c, rank: $0, ranks: ranks, output: output, outputBlock: block)
                    }
                    guard let shards else {
                        #expect(ranks > 1, "one rank always fits")
                        continue
                    }
                    fitted = ranks
                    let heads = shards.map(\.heads)
                    #expect(heads.first?.lowerBound == 0 && heads.last?.upperBound == c.heads)
                    #expect(zip(heads, heads.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound })
                    #expect(heads.allSatisfy { !$0.isEmpty }, "\(ranks) ranks: \(heads)")
                    for s in shards {
                        let needed = (s.heads.lowerBound / group)..<((s.heads.upperBound - 1) / group + 1)
                        #expect(s.kvHeads == needed, "\(ranks) ranks, rank \(s.rank): KV \(s.kvHeads), needs \(needed)")
                        if ranks <= c.kvHeads {
                            #expect(s.heads.lowerBound % group == 0 && s.heads.count % group == 0,
                                    "whole GQA groups: \(s.heads) in groups of \(group)")
                        }
                        if output == .rows && ranks > 1 {
                            #expect((s.heads.lowerBound * c.headDim) % block == 0, "\(s.heads) × \(c.headDim) on \(block)")
                        }
                        #expect(s.vocabPlan.last?.upperBound == c.vocab && s.vocabPlan.first?.lowerBound == 0)
                        #expect(s.vocabPlan.map(\.count).reduce(0, +) == c.vocab)
                    }
                }
                // Past the limit every rank count is refused, with a message saying how many fit.
                #expect(fitted >= 1 && fitted <= c.heads)
                #expect(throws: ActSparseError.self) {
                    try ModelShard(c, rank: 0, ranks: c.heads + 1, output: output, outputBlock: block)
                }
            }
        }
    }
}
