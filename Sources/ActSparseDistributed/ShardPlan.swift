import ActSparse

/// How one dimension (an FC's OC, or the MLP's intermediate size) is cut into one contiguous slice per rank:
/// balanced by bytes (equal columns ⇒ equal bytes within one format), boundaries on multiples of `align`
/// (the 32-column codec block, and the quantization group where the slice also cuts IC). Uneven sizes are fine:
/// the gather uses per-rank counts.
public struct ShardPlan: Equatable, Sendable, CustomStringConvertible {
    public let total: Int
    public let align: Int
    /// slices[r] = the columns rank r owns
    public let slices: [Range<Int>]

    public init(total: Int, ranks: Int, align: Int) throws {
        guard total > 0, ranks > 0, align > 0 else {
            throw ActSparseError.shape(what: "shard plan", expected: "total, ranks and align > 0",
                                       found: "total \(total), ranks \(ranks), align \(align)")
        }
        let blocks = (total + align - 1) / align
        guard ranks <= blocks else {
            throw ActSparseError.shape(
                what: "shard plan for \(total) columns in blocks of \(align)",
                expected: "at most \(blocks) ranks (one \(align)-column block each)", found: "\(ranks) ranks")
        }
        self.total = total
        self.align = align
        slices = Parallel.split(total, parts: ranks, align: align)
    }

    public var counts: [Int] { slices.map(\.count) }
    public var description: String { slices.map { "\($0.lowerBound)..<\($0.upperBound)" }.joined(separator: " ") }
}
