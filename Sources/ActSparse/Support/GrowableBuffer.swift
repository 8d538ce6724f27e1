/// Scratch that grows to the largest size asked for and is then reused: prefill buffers depend on the prompt
/// length, and fresh large allocations each call cost page faults (measured: the first prefill ~20 % slower).
public final class GrowableBuffer: @unchecked Sendable {
    var buffer: AlignedBuffer?
    public init() {}

    /// At least `count` floats; contents are unspecified.
    public func floats(_ count: Int) -> UnsafeMutablePointer<Float> {
        if buffer == nil || buffer!.count < count * 4 { buffer = AlignedBuffer(bytes: max(64, count * 4)) }
        return buffer!.pointer(as: Float.self)
    }
}
