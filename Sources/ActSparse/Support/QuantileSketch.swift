/// Quantiles of |x| over any number of samples in fixed memory (256 KiB): a histogram over the top 16 bits of
/// |x|'s float bit pattern (8 exponent bits, 7 mantissa bits), which orders like the values themselves. A bin spans
/// at most 2^-7 of its lower edge, so `quantile(q)` lies within `relativeTolerance` of the exact order statistic
/// s[min(n − 1, ⌊n·q⌋)] of the sorted samples (the calibrator's definition), whatever the number of samples.
/// Calibration kept every sample before: ≈ 290 MB for SmolLM2, ≈ 2 GB for a 7B model at 1 k tokens.
public struct QuantileSketch: Sendable {
    /// |quantile(q) − exact| ≤ relativeTolerance · exact (a bin is at most 2^-7 of its lower edge wide).
    public static let relativeTolerance: Float = 1.0 / 128
    static let bins = 1 << 15
    /// [bins] sample counts; NaN counts in the last bin (above +∞)
    public private(set) var counts: [UInt64]
    public private(set) var samples: UInt64 = 0

    public init() { counts = [UInt64](repeating: 0, count: QuantileSketch.bins) }

    /// A sketch from bin counts (several sketches' counts summed bin by bin are the sketch of all their samples).
    public init?(counts: [UInt64]) {
        guard counts.count == QuantileSketch.bins else { return nil }
        self.counts = counts
        samples = counts.reduce(0, &+)
    }

    @inline(__always) static func bin(_ x: Float) -> Int { min(bins - 1, Int((x.bitPattern & 0x7FFF_FFFF) >> 16)) }

    /// Adds |x[i]| for i in 0..<n.
    public mutating func add(_ x: UnsafePointer<Float>, count n: Int) {
        counts.withUnsafeMutableBufferPointer { c in
            for i in 0..<n { c[QuantileSketch.bin(x[i])] &+= 1 }
        }
        samples &+= UInt64(n)
    }

    public mutating func add(_ x: [Float]) { x.withUnsafeBufferPointer { add($0.baseAddress!, count: $0.count) } }

    /// The q-quantile of |x| (0 for q ≤ 0 or no samples), interpolated inside its bin.
    public func quantile(_ q: Double) -> Float {
        guard q > 0, samples > 0 else { return 0 }
        let rank = min(samples - 1, UInt64(Double(samples) * min(q, 1)))  // 0-based, as s[⌊n·q⌋]
        var below: UInt64 = 0
        for b in 0..<QuantileSketch.bins {
            let c = counts[b]
            if below + c > rank {
                let lo = Float(bitPattern: UInt32(b) << 16), hi = Float(bitPattern: UInt32(b + 1) << 16)
                guard lo.isFinite && hi.isFinite else { return lo }
                let f = (Float(rank - below) + 0.5) / Float(c)
                return lo + (hi - lo) * f
            }
            below += c
        }
        return .infinity
    }
}
