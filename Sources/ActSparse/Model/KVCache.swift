/// Keys and values of every layer, [layers, kvHeads, context, headDim] each (head-major: one KV head's positions
/// are one contiguous stream for the attention kernel), in f32, f16 or q8_0. f16 halves the bytes attention reads
/// per token at long contexts (and the cache's memory; llama.cpp's default is f16 too); q8_0 (blocks of 32 int8
/// codes with one f16 scale, llama.cpp's `-ctk q8_0`) takes 8.5 bits per value.
/// Head-major rather than [layers, context, kvDim]: one head's rows 2 KB apart per position read much slower than
/// contiguous ones (docs/design.md, "Kernel tuning"). Memory is committed as positions fill (4 KiB pages, no huge
/// pages): a 2,048-position cache of a 7B model costs little until the context is used.
public final class KVCache {
    public enum Precision: String, CaseIterable, Sendable { case f32, f16, q8_0 }
    public let precision: Precision
    let layers: Int, context: Int, heads: Int, headDim: Int
    var kvDim: Int { heads * headDim }
    /// Bytes between one head's consecutive positions (one head's row: `precision.rowBytes(headDim)`).
    public let positionStride: Int
    /// [layers, heads, context, headRow] each
    let keys: AlignedBuffer, values: AlignedBuffer

    public init(layers: Int, context: Int, heads: Int, headDim: Int, precision: Precision) throws {
        guard precision != .q8_0 || headDim % 32 == 0 else {
            throw ActSparseError.shape(what: "q8_0 KV cache head rows", expected: "a multiple of 32 values",
                                       found: "\(headDim)")
        }
        self.layers = layers; self.context = context; self.heads = heads; self.headDim = headDim
        self.precision = precision
        positionStride = precision.rowBytes(headDim)
        let (n, overflow) = (layers * heads * context).multipliedReportingOverflow(by: positionStride)
        guard !overflow else { throw ActSparseError.memory(what: "the KV cache", needed: Int.max, available: Memory.available()) }
        keys = try AlignedBuffer(bytes: n, what: "the KV cache (keys)", hugePages: false)
        values = try AlignedBuffer(bytes: n, what: "the KV cache (values)", hugePages: false)
    }

    /// Bytes of keys and values in physical memory now (what the cache costs so far; nil for small heap buffers).
    public var residentBytes: Int? {
        guard let k = keys.residentBytes, let v = values.residentBytes else { return nil }
        return k + v
    }

    /// Bytes of keys plus values per cached position of one layer.
    public var bytesPerPosition: Int { 2 * heads * positionStride }

    /// Stores one position's k and v ([heads, headDim] each): one row per head.
    public func store(layer l: Int, pos: Int, k: UnsafePointer<Float>, v: UnsafePointer<Float>) {
        let d = headDim
        for h in 0..<heads {
            let at = offset(layer: l, head: h, pos: pos), kh = k + h * d, vh = v + h * d
            switch precision {
            case .f32:
                (keys.raw + at).assumingMemoryBound(to: Float.self).update(from: kh, count: d)
                (values.raw + at).assumingMemoryBound(to: Float.self).update(from: vh, count: d)
            case .f16:
                let kp = (keys.raw + at).assumingMemoryBound(to: Float16.self)
                let vp = (values.raw + at).assumingMemoryBound(to: Float16.self)
                for i in 0..<d { kp[i] = Float16(kh[i]); vp[i] = Float16(vh[i]) }
            case .q8_0:
                KVCache.quantize(kh, count: d, into: keys.raw + at)
                KVCache.quantize(vh, count: d, into: values.raw + at)
            }
        }
    }

    /// Blocks of 32: scale d = max|x| / 127 as f16, codes round(x / d) in −127…127 (llama.cpp's Q8_0).
    static func quantize(_ x: UnsafePointer<Float>, count: Int, into out: UnsafeMutableRawPointer) {
        for b in 0..<(count / 32) {
            let blk = x + 32 * b, dst = out + 34 * b
            var amax: Float = 0
            for i in 0..<32 { amax = max(amax, abs(blk[i])) }
            let d = Float16(amax / 127), inv = Float(d) > 0 ? 1 / Float(d) : 0
            dst.storeBytes(of: d, as: Float16.self)
            for i in 0..<32 {
                dst.storeBytes(of: Int8(max(-127, min(127, (blk[i] * inv).rounded()))), toByteOffset: 2 + i, as: Int8.self)
            }
        }
    }

    /// Byte offset of layer l's head h row at position `pos` (keys or values alike).
    @inline(__always) func offset(layer l: Int, head h: Int, pos: Int) -> Int {
        ((l * heads + h) * context + pos) * positionStride
    }

    /// The stored value i (of kvDim: head i / headDim) of layer l's key (or value) at `pos`, as attention reads it:
    /// the scalar reference of every precision (tests compare the kernel against it).
    public func stored(layer l: Int, pos: Int, index: Int, value: Bool = false) -> Float {
        let r = UnsafeRawPointer((value ? values : keys).raw + offset(layer: l, head: index / headDim, pos: pos))
        let i = index % headDim
        switch precision {
        case .f32: return r.loadUnaligned(fromByteOffset: 4 * i, as: Float.self)
        case .f16: return Float(r.loadUnaligned(fromByteOffset: 2 * i, as: Float16.self))
        case .q8_0:
            let blk = 34 * (i / 32)
            return Float(r.loadUnaligned(fromByteOffset: blk, as: Float16.self)) *
                Float(r.loadUnaligned(fromByteOffset: blk + 2 + i % 32, as: Int8.self))
        }
    }

    /// Layer l's head h keys (or values) of positions from `pos` on, `positionStride` bytes apart: the rows the
    /// attention kernel reads.
    public func rows(layer l: Int, head h: Int, from pos: Int, values value: Bool = false) -> UnsafeRawPointer {
        UnsafeRawPointer((value ? values : keys).raw + offset(layer: l, head: h, pos: pos))
    }
}

extension KVCache.Precision {
    /// Bytes of `n` values (q8_0: whole blocks of 32).
    public func rowBytes(_ n: Int) -> Int {
        switch self {
        case .f32: 4 * n
        case .f16: 2 * n
        case .q8_0: n / 32 * 34
        }
    }

    /// The attention kernel's code for this precision (actsparse_attend's `kind`).
    public var kernelKind: Int32 { self == .f32 ? 0 : self == .f16 ? 1 : 2 }
}
