import ActSparse

/// A STREAM-like read probe: sums a buffer much larger than the last-level cache with `threads` workers and
/// reports bytes read per second (median of several passes). Kernels' effective GB/s are compared to this,
/// measured in the same run.
public final class ReadBandwidth {
    /// [bytes / 4] f32, filled with ones
    let buffer: AlignedBuffer
    public var bytes: Int { buffer.count }

    /// `bytes` defaults to 512 MiB (16× a 32 MiB L3).
    public init(bytes: Int = 512 << 20) throws {
        buffer = try AlignedBuffer(bytes: bytes)
        let p = buffer.pointer(as: Float.self)
        p.update(repeating: 1, count: bytes / 4)
    }

    /// GB/s (1e9 bytes/s), median over `passes`.
    public func measure(threads: Int, passes: Int = 7) -> Double {
        let n = bytes / 4
        let chunks = Parallel.split(n, parts: threads, align: 64)
        let p = UnsafePointer(buffer.pointer(as: Float.self))
        var sink = SIMD16<Float>()
        var times: [Double] = []
        let sums = UnsafeMutablePointer<SIMD16<Float>>.allocate(capacity: chunks.count)
        defer { sums.deallocate() }
        for _ in 0..<passes {
            times.append(Timing.seconds {
                Parallel.run(chunks.count) { w in
                    sums[w] = ReadBandwidth.sum(p, chunks[w])
                }
            })
            for w in 0..<chunks.count { sink += sums[w] }
        }
        precondition(sink.sum() > 0, "read probe summed nothing")
        return Double(bytes) / Timing.median(times) * 1e-9
    }

    @inline(never)
    static func sum(_ p: UnsafePointer<Float>, _ r: Range<Int>) -> SIMD16<Float> {
        var a = SIMD16<Float>(), b = SIMD16<Float>(), c = SIMD16<Float>(), d = SIMD16<Float>()
        var i = r.lowerBound
        let raw = UnsafeRawPointer(p)
        while i + 64 <= r.upperBound {
            a += raw.load(fromByteOffset: i * 4, as: SIMD16<Float>.self)
            b += raw.load(fromByteOffset: i * 4 + 64, as: SIMD16<Float>.self)
            c += raw.load(fromByteOffset: i * 4 + 128, as: SIMD16<Float>.self)
            d += raw.load(fromByteOffset: i * 4 + 192, as: SIMD16<Float>.self)
            i += 64
        }
        while i < r.upperBound { a[0] += p[i]; i += 1 }
        return a + b + c + d
    }
}
