/// Scratch that grows to the largest size asked for and is then reused: prefill buffers depend on the prompt
/// length, and fresh large allocations each call cost page faults (the first prefill was measurably slower).
public final class GrowableBuffer: @unchecked Sendable {
    var buffer: AlignedBuffer?
    public init() {}

    /// At least `count` floats; contents are unspecified.
    public func floats(_ count: Int) throws -> UnsafeMutablePointer<Float> {
        if let b = buffer, b.count >= count * 4 { return b.pointer(as: Float.self) }
        let (bytes, overflow) = count.multipliedReportingOverflow(by: 4)
        guard !overflow else { throw ActSparseError.memory(what: "scratch of \(count) floats", needed: Int.max, available: Memory.available()) }
        let b = try AlignedBuffer(bytes: max(64, bytes), what: "scratch")
        buffer = b
        return b.pointer(as: Float.self)
    }
}
