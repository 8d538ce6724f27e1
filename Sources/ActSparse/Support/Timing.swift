import Dispatch

/// Wall-clock helpers for benchmarks: monotonic nanoseconds and medians.
public enum Timing {
    @inline(__always) public static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    /// Seconds taken by `body`.
    @inline(__always) public static func seconds(_ body: () throws -> Void) rethrows -> Double {
        let t0 = now()
        try body()
        return Double(now() - t0) * 1e-9
    }

    public static func median(_ xs: [Double]) -> Double {
        guard !xs.isEmpty else { return .nan }
        let s = xs.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }
}
