/// Plain scalar twins of the fast kernels, for tests: straight loops over the reference dequantization,
/// accumulated in Double.
public enum Reference {
    /// y[o] = Σ over kept (i, x) of x·W[i, o]
    public static func gemv(_ w: PlainWeights, kept: [(Int, Float)]) -> [Float] {
        var y = [Double](repeating: 0, count: w.oc)
        for (i, x) in kept { for o in 0..<w.oc { y[o] += Double(x) * Double(w.weight(i, o)) } }
        return y.map { Float($0) }
    }

    /// Kept channels of x under threshold t (|x| > t), in ascending order.
    public static func threshold(_ x: [Float], t: Float) -> [(Int, Float)] {
        x.enumerated().filter { abs($0.element) > t }.map { ($0.offset, $0.element) }
    }

    /// y[M, OC] = x[M, IC] · W
    public static func gemm(_ w: PlainWeights, x: [Float], m: Int) -> [Float] {
        var y = [Float](repeating: 0, count: m * w.oc)
        for r in 0..<m {
            let row = gemv(w, kept: (0..<w.ic).map { ($0, x[r * w.ic + $0]) })
            for o in 0..<w.oc { y[r * w.oc + o] = row[o] }
        }
        return y
    }
}
