/// Finiteness checks on the protocol's payloads: a rank checks what it is about to send, so a NaN is reported by
/// the rank that made it, at the step where it appeared (one vectorised pass).
public enum Finite {
    /// The first index of x[0..<n] that is NaN or ±∞, nil if all are finite.
    public static func firstBad(_ x: UnsafePointer<Float>, count n: Int) -> Int? {
        var finite = true
        for i in 0..<n { finite = finite && abs(x[i]) <= .greatestFiniteMagnitude }
        return finite ? nil : (0..<n).first { !x[$0].isFinite }
    }
}
