/// Keys and values of every layer, [layers, context, kvDim] each, in f32, f16 or q8_0. f16 halves the bytes
/// attention reads per token at long contexts (and the cache's memory; llama.cpp's default is f16 too); q8_0
/// (blocks of 32 int8 codes with one f16 scale, llama.cpp's `-ctk q8_0`) takes 8.5 bits per value.
public final class KVCache {
    public enum Precision: String, CaseIterable, Sendable { case f32, f16, q8_0 }
    public let precision: Precision
    let layers: Int, context: Int, kvDim: Int
    /// [layers, context, row] each; a row is `precision.rowBytes(kvDim)` bytes
    let keys: AlignedBuffer, values: AlignedBuffer

    public init(layers: Int, context: Int, kvDim: Int, precision: Precision) throws {
        guard precision != .q8_0 || kvDim % 32 == 0 else {
            throw ActSparseError.shape(what: "q8_0 KV cache rows", expected: "a multiple of 32 values", found: "\(kvDim)")
        }
        self.layers = layers; self.context = context; self.kvDim = kvDim; self.precision = precision
        let (n, overflow) = (layers * context).multipliedReportingOverflow(by: precision.rowBytes(kvDim))
        guard !overflow else { throw ActSparseError.memory(what: "the KV cache", needed: Int.max, available: Memory.available()) }
        keys = try AlignedBuffer(bytes: n, what: "the KV cache (keys)")
        values = try AlignedBuffer(bytes: n, what: "the KV cache (values)")
    }

    /// Bytes of keys plus values per cached position of one layer.
    public var bytesPerPosition: Int { 2 * precision.rowBytes(kvDim) }

    /// Stores one position's k and v ([kvDim] each).
    public func store(layer l: Int, pos: Int, k: UnsafePointer<Float>, v: UnsafePointer<Float>) {
        let slot = l * context + pos
        switch precision {
        case .f32:
            (keys.pointer(as: Float.self) + slot * kvDim).update(from: k, count: kvDim)
            (values.pointer(as: Float.self) + slot * kvDim).update(from: v, count: kvDim)
        case .f16:
            let kp = keys.pointer(as: Float16.self) + slot * kvDim, vp = values.pointer(as: Float16.self) + slot * kvDim
            for i in 0..<kvDim { kp[i] = Float16(k[i]); vp[i] = Float16(v[i]) }
        case .q8_0:
            let row = precision.rowBytes(kvDim)
            KVCache.quantize(k, count: kvDim, into: keys.raw + slot * row)
            KVCache.quantize(v, count: kvDim, into: values.raw + slot * row)
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

    /// Start of layer l's row at position `pos` (keys or values).
    @inline(__always) func row(_ buffer: AlignedBuffer, layer l: Int, pos: Int) -> UnsafeRawPointer {
        UnsafeRawPointer(buffer.raw + (l * context + pos) * precision.rowBytes(kvDim))
    }

    /// The stored value i of layer l's key (or value) row at `pos`, as attention reads it: the scalar reference
    /// of every precision (tests compare the kernel against it).
    public func stored(layer l: Int, pos: Int, index i: Int, value: Bool = false) -> Float {
        let r = row(value ? values : keys, layer: l, pos: pos)
        switch precision {
        case .f32: return r.loadUnaligned(fromByteOffset: 4 * i, as: Float.self)
        case .f16: return Float(r.loadUnaligned(fromByteOffset: 2 * i, as: Float16.self))
        case .q8_0:
            let blk = 34 * (i / 32)
            return Float(r.loadUnaligned(fromByteOffset: blk, as: Float16.self)) *
                Float(r.loadUnaligned(fromByteOffset: blk + 2 + i % 32, as: Int8.self))
        }
    }

    /// Layer l's keys (or values) of positions from `pos` on, as raw rows for the attention kernel.
    public func rows(layer l: Int, from pos: Int, values value: Bool = false) -> UnsafeRawPointer {
        row(value ? values : keys, layer: l, pos: pos)
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
