/// The part of the attention and LM head one rank holds under whole-model tensor parallelism (the MLPs are cut
/// by their own `FeedForward`). The residual stream is replicated: every rank embeds the token, norms, and
/// thresholds the same vector, so nothing has to be broadcast into a block; each block ends in one collective.
///
/// - Attention: a contiguous range of query heads with the KV heads they read (GQA: whole KV heads and their
///   query heads while there are at least as many KV heads as ranks; with more ranks, query heads are split and
///   the few KV heads replicated). q/k/v are the OC slices of those heads; the KV cache holds only them.
/// - Output projection: `rows` — its IC slice (this rank's heads) and one all-reduce of a partial [H];
///   `columns` — every rank gathers the whole attention output [qDim] and runs an OC slice of [H], then
///   gathers [H]: two messages, but each output element is summed exactly as on one rank (bit-identical).
/// - LM head: a vocabulary slice; the caller reduces it (argmax), gathers candidates (sampling) or all logits.
public struct ModelShard: Sendable, Equatable, CustomStringConvertible {
    public enum Output: String, Sendable { case rows, columns }

    public let rank: Int
    public let ranks: Int
    /// Query heads per rank [rank]; KV heads this rank reads.
    public let headPlan: [Range<Int>]
    public let kvHeads: Range<Int>
    /// LM head columns per rank [rank].
    public let vocabPlan: [Range<Int>]
    /// Output projection columns per rank (`columns` mode; all of them on every rank in `rows` mode) [rank].
    public let hiddenPlan: [Range<Int>]
    public let output: Output

    /// Floats each rank sends per row: its attention output (heads × headDim), output projection columns and
    /// logits [rank] — the counts of the per-token gathers, made once.
    public let attentionCounts: [Int], hiddenCounts: [Int], vocabCounts: [Int]

    public var heads: Range<Int> { headPlan[rank] }
    public var vocab: Range<Int> { vocabPlan[rank] }
    public var hidden: Range<Int> { hiddenPlan[rank] }
    public var isWhole: Bool { ranks == 1 }

    /// This rank's KV heads (indices into `kvHeads`) that it alone counts when every rank's are summed: a KV head
    /// replicated on several ranks (more ranks than KV heads) belongs to the rank holding its group's first query head.
    public func countedKVHeads(group: Int) -> Range<Int> {
        let first = min(kvHeads.upperBound, max(kvHeads.lowerBound, (heads.lowerBound + group - 1) / max(1, group)))
        return (first - kvHeads.lowerBound)..<kvHeads.count
    }

    /// One rank holding everything.
    public static func whole(_ c: LlamaConfig) -> ModelShard {
        ModelShard(rank: 0, ranks: 1, headDim: c.headDim, headPlan: [0..<c.heads], kvHeads: 0..<c.kvHeads, vocabPlan: [0..<c.vocab],
                   hiddenPlan: [0..<c.hidden], output: .rows)
    }

    init(rank: Int, ranks: Int, headDim: Int, headPlan: [Range<Int>], kvHeads: Range<Int>, vocabPlan: [Range<Int>],
         hiddenPlan: [Range<Int>], output: Output) {
        self.rank = rank; self.ranks = ranks; self.headPlan = headPlan; self.kvHeads = kvHeads
        self.vocabPlan = vocabPlan; self.hiddenPlan = hiddenPlan; self.output = output
        attentionCounts = headPlan.map { $0.count * headDim }
        hiddenCounts = hiddenPlan.map(\.count)
        vocabCounts = vocabPlan.map(\.count)
    }

    /// Rank `rank`'s share of a model with `c`'s shape. `outputBlock` is the output projection's quantization
    /// block along IC (its IC slices must not cut a block: `rows` mode keeps whole blocks of heads together).
    public init(_ c: LlamaConfig, rank: Int, ranks: Int, output: Output, outputBlock: Int) throws {
        guard ranks >= 1, rank >= 0, rank < ranks else {
            throw ActSparseError.shape(what: "model shard", expected: "rank in 0..<ranks", found: "rank \(rank) of \(ranks)")
        }
        let group = c.heads / c.kvHeads
        // Heads move in units: whole KV groups while there are enough, single query heads past that; in `rows`
        // mode also whole quantization blocks of the output projection's input.
        var unit = ranks <= c.kvHeads ? group : 1
        if output == .rows && ranks > 1 {
            let perBlock = (max(1, outputBlock) + c.headDim - 1) / c.headDim
            guard outputBlock % c.headDim == 0 || c.headDim % outputBlock == 0 else {
                throw ActSparseError.shape(what: "output projection slices", expected: "head dim \(c.headDim) and block " +
                                           "\(outputBlock) dividing one another", found: "neither divides the other")
            }
            unit = unit * perBlock / gcd(unit, perBlock)
        }
        guard ranks * unit <= c.heads || ranks == 1 else {
            throw ActSparseError.shape(
                what: "attention heads over \(ranks) ranks",
                expected: "at most \(c.heads / unit) ranks (\(c.heads) query heads in units of \(unit))",
                found: "\(ranks) ranks")
        }
        let heads = Parallel.split(c.heads, parts: ranks, align: unit)
        let mine = heads[rank]
        let kv = (mine.lowerBound / group)..<((mine.upperBound - 1) / group + 1)
        func plan(_ total: Int) throws -> [Range<Int>] {
            guard ranks * 32 <= total || ranks == 1 else {
                throw ActSparseError.shape(what: "slices of \(total) columns", expected: "at most \(total / 32) ranks",
                                           found: "\(ranks)")
            }
            return Parallel.split(total, parts: ranks, align: 32)
        }
        self.init(rank: rank, ranks: ranks, headDim: c.headDim, headPlan: heads, kvHeads: kv, vocabPlan: try plan(c.vocab),
                  hiddenPlan: output == .columns ? try plan(c.hidden) : Array(repeating: 0..<c.hidden, count: ranks),
                  output: output)
    }

    public var description: String {
        "heads \(heads) (KV \(kvHeads)), vocab \(vocab), output \(output.rawValue)" +
            (output == .columns ? " \(hidden)" : "")
    }
}

func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? a : gcd(b, a % b) }
