import ActSparse
import ActSparseDistributed

extension ThresholdCalibrator {
    /// Rank 0 gets every rank's sketches summed bin by bin (one reduce): the sketch of all their samples, as if one
    /// process had seen them. The others keep theirs.
    public func merge(_ comm: Communicator) throws {
        guard comm.size > 1 else { return }
        let all = sketches.flatMap { $0.flatMap(\.counts) }
        let sum = try ExactSum.reduce(all, comm: comm)
        guard comm.isRoot else { return }
        let bins = all.count / max(1, sketches.count * SparsitySite.allCases.count)
        for l in sketches.indices {
            for s in sketches[l].indices {
                let at = (l * SparsitySite.allCases.count + s) * bins
                if let merged = QuantileSketch(counts: Array(sum[at..<(at + bins)])) { sketches[l][s] = merged }
            }
        }
    }
}

/// Sums of unsigned integers over ranks, exactly, on a communicator that reduces floats: each value travels as three
/// 16-bit pieces, whose sums stay exact in a float's 24-bit significand for up to 256 ranks (values < 2^48).
public enum ExactSum {
    /// Floats per reduce call.
    static let slice = 1 << 18

    public static func reduce(_ values: [UInt64], comm: Communicator) throws -> [UInt64] {
        guard comm.size > 1 else { return values }
        guard comm.size <= 256, values.allSatisfy({ $0 < 1 << 48 }) else {
            throw ActSparseError.invalidValue(what: "exact sum over ranks", expected: "≤ 256 ranks and values < 2^48",
                                              found: "\(comm.size) ranks")
        }
        let n = values.count
        var pieces = [Float](repeating: 0, count: 3 * n)
        for (i, v) in values.enumerated() {
            pieces[i] = Float(v & 0xFFFF); pieces[n + i] = Float((v >> 16) & 0xFFFF); pieces[2 * n + i] = Float(v >> 32)
        }
        var out = [Float](repeating: 0, count: comm.isRoot ? 3 * n : 1)
        // In slices: a non-blocking reduce moves on only while its request is tested, and the communicator's wait
        // tests less often as it waits longer, so one 47 MB reduce (SmolLM2's sketches) took 27 s; 1 MB slices take
        // a fraction of a second.
        try pieces.withUnsafeBufferPointer { p in
            try out.withUnsafeMutableBufferPointer { o in
                for lo in stride(from: 0, to: 3 * n, by: ExactSum.slice) {
                    let count = min(ExactSum.slice, 3 * n - lo)
                    try comm.reduceSum(p.baseAddress! + lo, into: comm.isRoot ? o.baseAddress! + lo : nil, count: count, root: 0)
                }
            }
        }
        guard comm.isRoot else { return values }
        return (0..<n).map { i in UInt64(out[i]) + UInt64(out[n + i]) << 16 + UInt64(out[2 * n + i]) << 32 }
    }
}
