/// Tensor element types of GGUF files that ActSparse reads. `traits` is the one table of their geometry and of
/// the engine format each loads into without loss; `unpack` is the one decoder of their blocks.
public enum GGMLType: UInt32, Sendable, CaseIterable, CustomStringConvertible {
    case f32 = 0, f16 = 1, q4_0 = 2, q4_1 = 3, q5_0 = 6, q5_1 = 7, q8_0 = 8, q3_K = 11, q4_K = 12, q5_K = 13, q6_K = 14
    case iq4_nl = 20, bf16 = 30

    public struct Traits: Sendable {
        public let name: String
        /// Elements per block (1 for plain floats) and bytes per block.
        public let blockSize: Int, blockBytes: Int
        /// The engine format a tensor of this type loads into without loss (group 32, or the k-quant's own).
        public let engine: WeightFormat.Kind
    }

    public var traits: Traits {
        switch self {
        case .f32: return .init(name: "F32", blockSize: 1, blockBytes: 4, engine: .f32)
        case .f16: return .init(name: "F16", blockSize: 1, blockBytes: 2, engine: .f16)
        case .bf16: return .init(name: "BF16", blockSize: 1, blockBytes: 2, engine: .bf16)
        case .q4_0: return .init(name: "Q4_0", blockSize: 32, blockBytes: 18, engine: .int4sym)
        case .q4_1: return .init(name: "Q4_1", blockSize: 32, blockBytes: 20, engine: .int4asym)
        case .q5_0: return .init(name: "Q5_0", blockSize: 32, blockBytes: 22, engine: .int5sym)
        case .q5_1: return .init(name: "Q5_1", blockSize: 32, blockBytes: 24, engine: .int5asym)
        case .q8_0: return .init(name: "Q8_0", blockSize: 32, blockBytes: 34, engine: .int8group)
        case .q4_K: return .init(name: "Q4_K", blockSize: 256, blockBytes: 144, engine: .q4k)
        case .q5_K: return .init(name: "Q5_K", blockSize: 256, blockBytes: 176, engine: .q5k)
        case .q6_K: return .init(name: "Q6_K", blockSize: 256, blockBytes: 210, engine: .q6k)
        // Loaded exactly into wider engine formats (no 3-bit or codebook kernel yet): Q3_K's w = d·(sc − 32)·(q − 4)
        // is Q6_K's (D·sc)·(q − 32) with q + 28 and a signed sub-scale; IQ4_NL's d·table[q] is Q8_0's d·q with the
        // table's int8 value as the code.
        case .q3_K: return .init(name: "Q3_K", blockSize: 256, blockBytes: 110, engine: .q6k)
        case .iq4_nl: return .init(name: "IQ4_NL", blockSize: 32, blockBytes: 18, engine: .int8group)
        }
    }

    public var blockSize: Int { traits.blockSize }
    public var blockBytes: Int { traits.blockBytes }
    public var engineFormat: WeightFormat { WeightFormat(valid: traits.engine, group: 32) }
    public var description: String { traits.name }
    public var isQuantized: Bool { traits.blockSize > 1 }

    /// ggml's names of the types this build does not read, for an error that names what the file holds.
    static let otherNames: [UInt32: String] = [
        9: "Q8_1", 10: "Q2_K", 15: "Q8_K", 16: "IQ2_XXS", 17: "IQ2_XS", 18: "IQ3_XXS", 19: "IQ1_S",
        21: "IQ3_S", 22: "IQ2_S", 23: "IQ4_XS", 24: "I8", 25: "I16", 26: "I32", 27: "I64", 28: "F64",
        29: "IQ1_M", 34: "TQ1_0", 35: "TQ2_0",
    ]
    /// "Q2_K (10)" or "type 99": how an unsupported raw type is named in errors.
    static func describe(raw: UInt32) -> String { otherNames[raw].map { "\($0) (\(raw))" } ?? "type \(raw)" }
    static var supportedList: String { allCases.map(\.description).joined(separator: ", ") }
}

// MARK: - Block decoding (ggml's layouts; checked against the PyPI `gguf` package's numpy dequantizer)

import CActSparse

extension GGMLType {
    /// `unpack`'s codes through the vectorised C decoders (loading's fast path; the Swift `unpack` is their
    /// reference, and the tests compare both with gguf-py). Scales still come from `unpack`'s Swift code.
    @inline(__always)
    func unpackFast(_ b: UnsafeRawPointer, codes: UnsafeMutablePointer<UInt8>, scale: UnsafeMutablePointer<UInt16>,
                    minimum: UnsafeMutablePointer<UInt16>) -> (Float16, Float16) {
        switch self {
        case .q4_K, .q5_K:
            actsparse_unpack_k45(b.assumingMemoryBound(to: UInt8.self), self == .q5_K ? 1 : 0, codes)
            return unpackScales(b, scale: scale, minimum: minimum)
        case .q6_K:
            actsparse_unpack_q6k(b.assumingMemoryBound(to: UInt8.self), codes)
            return unpackScales(b, scale: scale, minimum: minimum)
        case .q3_K:
            actsparse_unpack_q3k(b.assumingMemoryBound(to: UInt8.self), codes)
            return unpackScales(b, scale: scale, minimum: minimum)
        case .iq4_nl:
            actsparse_unpack_iq4nl(b.assumingMemoryBound(to: UInt8.self) + 2, codes)
            return unpackScales(b, scale: scale, minimum: minimum)
        case .q5_0, .q5_1:
            let h = b.assumingMemoryBound(to: UInt8.self) + (self == .q5_1 ? 4 : 2)
            actsparse_unpack_q5(h, h + 4, codes)
            return unpackScales(b, scale: scale, minimum: minimum)
        default:
            return unpack(b, codes: codes, scale: scale, minimum: minimum)
        }
    }

    /// The scale part of `unpack` (d, m per group; k-quant sub-scales and D, Dmin).
    @inline(__always)
    func unpackScales(_ b: UnsafeRawPointer, scale: UnsafeMutablePointer<UInt16>,
                      minimum: UnsafeMutablePointer<UInt16>) -> (Float16, Float16) {
        switch self {
        case .q8_0, .q4_0, .q5_0, .iq4_nl:
            scale[0] = b.loadUnaligned(as: UInt16.self)
            return (0, 0)
        case .q4_1, .q5_1:
            scale[0] = b.loadUnaligned(as: UInt16.self)
            minimum[0] = b.loadUnaligned(fromByteOffset: 2, as: UInt16.self)
            return (0, 0)
        case .q4_K, .q5_K:
            // 12 bytes of 6-bit sub-scales and sub-mins after d and dmin
            let s = b + 4
            for j in 0..<4 {
                let dj = s.load(fromByteOffset: j, as: UInt8.self), mj = s.load(fromByteOffset: 4 + j, as: UInt8.self)
                let mdj = s.load(fromByteOffset: 8 + j, as: UInt8.self)
                scale[j] = UInt16(dj & 63); minimum[j] = UInt16(mj & 63)
                scale[j + 4] = UInt16((mdj & 15) | ((dj >> 2) & 0x30))
                minimum[j + 4] = UInt16((mdj >> 4) | ((mj >> 2) & 0x30))
            }
            return (b.loadUnaligned(as: Float16.self), b.loadUnaligned(fromByteOffset: 2, as: Float16.self))
        case .q6_K:
            for g in 0..<16 { scale[g] = UInt16(b.load(fromByteOffset: 192 + g, as: UInt8.self)) }
            return (b.loadUnaligned(fromByteOffset: 208, as: Float16.self), 0)
        case .q3_K:
            // 12 bytes after hmask[32] and qs[64]: 16 six-bit sub-scales (low nibbles in bytes 0–7, two high
            // bits each in bytes 8–11), stored minus 32 as Q6_K's signed sub-scale.
            let s = b + 96
            for k in 0..<16 {
                let low = k < 8 ? s.load(fromByteOffset: k, as: UInt8.self) & 15 : s.load(fromByteOffset: k - 8, as: UInt8.self) >> 4
                let high = (s.load(fromByteOffset: 8 + k % 4, as: UInt8.self) >> UInt8(2 * (k / 4))) & 3
                scale[k] = UInt16(UInt8(bitPattern: Int8(low | high << 4) - 32))
            }
            return (b.loadUnaligned(fromByteOffset: 108, as: Float16.self), 0)
        default:
            return (0, 0)
        }
    }

    /// Unpacks one quantized block into integer codes and scale parameters in the engine format's terms:
    /// codes[j] for element j (Q8_0: the int8's bit pattern); per group g of the block, `scale[g]`/`minimum[g]`:
    /// f16 bit patterns of d and m (32-element formats) or the integer sub-scale and sub-min (k-quants; Q6_K's
    /// int8 sub-scale as its bit pattern). Returns the k-quant super-block's D and Dmin (zero otherwise).
    @inline(__always)
    func unpack(_ b: UnsafeRawPointer, codes: UnsafeMutablePointer<UInt8>, scale: UnsafeMutablePointer<UInt16>,
                minimum: UnsafeMutablePointer<UInt16>) -> (Float16, Float16) {
        switch self {
        case .f32, .f16, .bf16:
            return (0, 0)
        case .q8_0:
            for j in 0..<32 { codes[j] = b.load(fromByteOffset: 2 + j, as: UInt8.self) }
        case .q4_0, .q4_1:
            let qs = b + (self == .q4_1 ? 4 : 2)
            for j in 0..<16 {  // byte j: element j (low nibble), element j + 16 (high nibble)
                let v = qs.load(fromByteOffset: j, as: UInt8.self)
                codes[j] = v & 15; codes[j + 16] = v >> 4
            }
        case .q5_0, .q5_1:
            let h = b + (self == .q5_1 ? 4 : 2)
            let qh = h.loadUnaligned(as: UInt32.self)  // bit j: element j's bit 4
            for j in 0..<16 {
                let v = h.load(fromByteOffset: 4 + j, as: UInt8.self)
                codes[j] = (v & 15) | UInt8((qh >> UInt32(j)) & 1) << 4
                codes[j + 16] = (v >> 4) | UInt8((qh >> UInt32(j + 16)) & 1) << 4
            }
        case .q4_K, .q5_K:
            // d, dmin (f16), 12 bytes of sub-scales, [Q5_K: 32 bytes of high bits], 128 bytes of nibbles:
            // chunk c of 64 elements = 32 bytes, low nibbles elements 64c + j, high 64c + 32 + j.
            let q5 = self == .q5_K
            let qh = b + 16, qs = b + (q5 ? 48 : 16)
            for c in 0..<4 {
                for j in 0..<32 {
                    let v = qs.load(fromByteOffset: 32 * c + j, as: UInt8.self)
                    var lo = v & 15, hi = v >> 4
                    if q5 {
                        let h = qh.load(fromByteOffset: j, as: UInt8.self)
                        lo |= ((h >> UInt8(2 * c)) & 1) << 4
                        hi |= ((h >> UInt8(2 * c + 1)) & 1) << 4
                    }
                    codes[64 * c + j] = lo; codes[64 * c + 32 + j] = hi
                }
            }
        case .q6_K:
            // ql[128], qh[64], 16 int8 sub-scales, d: half h of 128 elements: ql[64h + j] low nibble → element
            // 128h + j, high → 128h + 64 + j; qh[32h + j] bits 2s…2s+1 → element 128h + 32s + j's bits 4–5.
            for h in 0..<2 {
                for j in 0..<64 {
                    let v = b.load(fromByteOffset: 64 * h + j, as: UInt8.self)
                    codes[128 * h + j] = v & 15; codes[128 * h + 64 + j] = v >> 4
                }
                for j in 0..<32 {
                    let v = b.load(fromByteOffset: 128 + 32 * h + j, as: UInt8.self)
                    for s in 0..<4 { codes[128 * h + 32 * s + j] |= ((v >> UInt8(2 * s)) & 3) << 4 }
                }
            }
        case .q3_K:
            // hmask[32], qs[64]: half h of 128 elements, shift s: element 128h + 32s + j (j < 32) has its low two
            // bits in qs[32h + j] bits 2s…2s+1 and its third bit in hmask[j] bit 4h + s; code q + 28 (Q6_K's − 32).
            for h in 0..<2 {
                for s in 0..<4 {
                    for j in 0..<32 {
                        let low = (b.load(fromByteOffset: 32 + 32 * h + j, as: UInt8.self) >> UInt8(2 * s)) & 3
                        let high = (b.load(fromByteOffset: j, as: UInt8.self) >> UInt8(4 * h + s)) & 1
                        codes[128 * h + 32 * s + j] = (low | high << 2) + 28
                    }
                }
            }
        case .iq4_nl:
            // d, then 16 bytes: element j the low nibble of byte j, element j + 16 the high one, each an index
            // into the non-linear table; the table's int8 value is the code (bit pattern).
            for j in 0..<16 {
                let v = b.load(fromByteOffset: 2 + j, as: UInt8.self)
                codes[j] = UInt8(bitPattern: GGMLType.iq4nlTable[Int(v & 15)])
                codes[j + 16] = UInt8(bitPattern: GGMLType.iq4nlTable[Int(v >> 4)])
            }
        }
        return unpackScales(b, scale: scale, minimum: minimum)
    }

    /// Scale parameters in a block that must be finite for the file to mean numbers (d, m; D, Dmin).
    func checkFinite(_ b: UnsafeRawPointer) -> Bool {
        switch self {
        case .f32, .f16, .bf16: return true
        case .q8_0, .q4_0, .q5_0, .iq4_nl: return b.loadUnaligned(as: Float16.self).isFinite
        case .q4_1, .q5_1, .q4_K, .q5_K:
            return b.loadUnaligned(as: Float16.self).isFinite && b.loadUnaligned(fromByteOffset: 2, as: Float16.self).isFinite
        case .q6_K: return b.loadUnaligned(fromByteOffset: 208, as: Float16.self).isFinite
        case .q3_K: return b.loadUnaligned(fromByteOffset: 108, as: Float16.self).isFinite
        }
    }

    /// IQ4_NL's code book (ggml's `kvalues_iq4nl`), the same table as the C decoder's.
    static let iq4nlTable: [Int8] = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113]
}
