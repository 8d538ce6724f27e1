/// Gathered collectives deliver rank-major blocks: rank r's [M, width_r] rows, one rank after another.
public enum RankBlocks {
    /// Rank-major blocks [rank][M, width_r] → rows [M, Σ width_r] (each rank's columns in rank order).
    public static func interleave(_ blocks: UnsafePointer<Float>, rows m: Int, widths: [Int],
                                  into out: UnsafeMutablePointer<Float>) {
        let total = widths.reduce(0, +)
        var offset = 0, column = 0
        for w in widths {
            for r in 0..<m { (out + r * total + column).update(from: blocks + offset + r * w, count: w) }
            offset += m * w
            column += w
        }
    }
}
