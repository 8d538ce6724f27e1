/// Keys and values of every layer, [layers, context, kvDim] each, in f32 or f16. f16 halves the bytes attention
/// reads per token at long contexts (and the cache's memory); llama.cpp's default is f16 too.
public final class KVCache {
    public enum Precision: String, CaseIterable, Sendable { case f32, f16 }
    public let precision: Precision
    let layers: Int, context: Int, kvDim: Int
    /// [layers, context, kvDim] each, element size 4 (f32) or 2 (f16)
    let keys: AlignedBuffer, values: AlignedBuffer

    public init(layers: Int, context: Int, kvDim: Int, precision: Precision) throws {
        self.layers = layers; self.context = context; self.kvDim = kvDim; self.precision = precision
        let (n, overflow) = (layers * kvDim).multipliedReportingOverflow(by: context * precision.bytes)
        guard !overflow else { throw ActSparseError.memory(what: "the KV cache", needed: Int.max, available: Memory.available()) }
        keys = try AlignedBuffer(bytes: n, what: "the KV cache (keys)")
        values = try AlignedBuffer(bytes: n, what: "the KV cache (values)")
    }

    /// Bytes of keys plus values per cached position of one layer.
    public var bytesPerPosition: Int { 2 * kvDim * precision.bytes }

    /// Stores one position's k and v ([kvDim] each).
    func store(layer l: Int, pos: Int, k: UnsafePointer<Float>, v: UnsafePointer<Float>) {
        let slot = (l * context + pos) * kvDim
        switch precision {
        case .f32:
            (keys.pointer(as: Float.self) + slot).update(from: k, count: kvDim)
            (values.pointer(as: Float.self) + slot).update(from: v, count: kvDim)
        case .f16:
            let kp = keys.pointer(as: Float16.self) + slot, vp = values.pointer(as: Float16.self) + slot
            for i in 0..<kvDim { kp[i] = Float16(k[i]); vp[i] = Float16(v[i]) }
        }
    }

    /// Start of layer l's row at position `pos` (keys or values).
    @inline(__always) func row(_ buffer: AlignedBuffer, layer l: Int, pos: Int) -> UnsafeRawPointer {
        UnsafeRawPointer(buffer.raw + ((l * context + pos) * kvDim) * precision.bytes)
    }
}

extension KVCache.Precision {
    public var bytes: Int { self == .f32 ? 4 : 2 }
}

/// A cached element type, so that attention is specialised per precision.
protocol KVElement {
    static var size: Int { get }
    static func load16(_ p: UnsafeRawPointer, _ i: Int) -> SIMD16<Float>
    static func load(_ p: UnsafeRawPointer, _ i: Int) -> Float
}

enum KVf32: KVElement {
    static var size: Int { 4 }
    @inline(__always) static func load16(_ p: UnsafeRawPointer, _ i: Int) -> SIMD16<Float> {
        p.loadUnaligned(fromByteOffset: 4 * i, as: SIMD16<Float>.self)
    }
    @inline(__always) static func load(_ p: UnsafeRawPointer, _ i: Int) -> Float { p.loadUnaligned(fromByteOffset: 4 * i, as: Float.self) }
}

enum KVf16: KVElement {
    static var size: Int { 2 }
    @inline(__always) static func load16(_ p: UnsafeRawPointer, _ i: Int) -> SIMD16<Float> {
        widen(p.loadUnaligned(fromByteOffset: 2 * i, as: SIMD16<Float16>.self))
    }
    @inline(__always) static func load(_ p: UnsafeRawPointer, _ i: Int) -> Float {
        Float(p.loadUnaligned(fromByteOffset: 2 * i, as: Float16.self))
    }
}
