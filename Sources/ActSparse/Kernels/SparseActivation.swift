/// The input channels of one token that survive thresholding: ascending indices and their values.
/// Allocated once per FC input size and reused every token.
public final class SparseActivation: @unchecked Sendable {
    /// Width of the activation this holds (IC of the FC it feeds).
    public let width: Int
    /// [width] kept channel indices, ascending; the first `count` are valid
    public let indices: UnsafeMutablePointer<Int32>
    /// [width] the kept channels' values, parallel to `indices`
    public let values: UnsafeMutablePointer<Float>
    /// How many channels are kept.
    public internal(set) var count: Int = 0 { didSet { generation &+= 1 } }
    /// Bumped whenever the kept set changes (`threshold`, `keepAll`, `assign`): quantized views are remade.
    private(set) var generation = 0
    /// Int8 views of the kept channels, one per weight group size seen (the FCs sharing this input share them).
    private var quantizedViews: [QuantizedActivation] = []

    /// The kept channels quantized to int8 per `group` channels, made once per kept set.
    func quantized(group: Int) -> QuantizedActivation {
        let v: QuantizedActivation
        if let found = quantizedViews.first(where: { $0.group == group }) {
            v = found
        } else {
            v = QuantizedActivation(width: width, group: group)
            quantizedViews.append(v)
        }
        if v.generation != generation {
            v.quantize(self)
            v.generation = generation
        }
        return v
    }

    public init(width: Int) {
        self.width = width
        indices = .allocate(capacity: max(1, width))
        values = .allocate(capacity: max(1, width))
    }

    deinit { indices.deallocate(); values.deallocate() }

    /// Fraction of channels dropped.
    public var sparsity: Double { width == 0 ? 0 : 1 - Double(count) / Double(width) }

    // MARK: - Thresholding

    /// Keeps channel i iff |x[i]| > t (strict: |x| == t is dropped). Throws on NaN/Inf or a bad threshold.
    public func threshold(_ x: UnsafePointer<Float>, count n: Int, t: Float) throws {
        guard n == width else { throw ActSparseError.shape(what: "activation", expected: "\(width) channels",
                                                           found: "\(n)") }
        guard t >= 0, t.isFinite else {
            throw ActSparseError.invalidValue(what: "threshold", expected: "a finite value >= 0", found: "\(t)")
        }
        var kept = 0
        var finite = true
        for i in 0..<n {
            let v = x[i]
            let a = abs(v)
            finite = finite && a <= .greatestFiniteMagnitude
            indices[kept] = Int32(truncatingIfNeeded: i)
            values[kept] = v
            kept &+= a > t ? 1 : 0  // branch-free compaction
        }
        guard finite else {
            let bad = (0..<n).first { !x[$0].isFinite }!
            throw ActSparseError.invalidValue(what: "activation x[\(bad)]", expected: "a finite value",
                                              found: "\(x[bad])")
        }
        count = kept
    }

    /// Zeroes the values of x [count] with |x| ≤ t (t = 0: nothing): the channels `threshold` would drop, for a
    /// batched (prefill) pass that must drop the same ones.
    public static func zeroDropped(_ x: UnsafeMutablePointer<Float>, count: Int, t: Float) {
        guard t > 0 else { return }
        for i in 0..<count where abs(x[i]) <= t { x[i] = 0 }
    }

    /// Keeps every channel (the dense decode path: same kernel, all rows).
    public func keepAll(_ x: UnsafePointer<Float>, count n: Int) throws {
        guard n == width else { throw ActSparseError.shape(what: "activation", expected: "\(width) channels",
                                                           found: "\(n)") }
        for i in 0..<n {
            guard x[i].isFinite else {
                throw ActSparseError.invalidValue(what: "activation x[\(i)]", expected: "a finite value",
                                                  found: "\(x[i])")
            }
            indices[i] = Int32(i)
            values[i] = x[i]
        }
        count = n
    }

    /// Sets the kept channels directly (benchmarks with an exact kept fraction; the wire protocol's receive side).
    public func assign(indices idx: UnsafePointer<Int32>, values v: UnsafePointer<Float>, count n: Int) throws {
        guard n >= 0, n <= width else {
            throw ActSparseError.shape(what: "kept channel count", expected: "0...\(width)", found: "\(n)")
        }
        var last: Int32 = -1
        for k in 0..<n {
            guard idx[k] > last, Int(idx[k]) < width else {
                throw ActSparseError.invalidValue(what: "kept index #\(k)",
                                                  expected: "ascending and < \(width)", found: "\(idx[k])")
            }
            last = idx[k]
        }
        indices.update(from: idx, count: n)
        values.update(from: v, count: n)
        count = n
    }
}
