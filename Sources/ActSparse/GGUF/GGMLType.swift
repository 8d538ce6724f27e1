/// Tensor element types of GGUF files that ActSparse reads, with their block geometry.
public enum GGMLType: UInt32, Sendable, CustomStringConvertible {
    case f32 = 0, f16 = 1, q4_0 = 2, q4_1 = 3, q8_0 = 8, bf16 = 30

    /// Elements per block (1 for plain floats).
    public var blockSize: Int {
        switch self {
        case .f32, .f16, .bf16: return 1
        case .q4_0, .q4_1, .q8_0: return 32
        }
    }

    /// Bytes per block.
    public var blockBytes: Int {
        switch self {
        case .f32: return 4
        case .f16, .bf16: return 2
        case .q4_0: return MemoryLayout<BlockQ4_0>.size
        case .q4_1: return MemoryLayout<BlockQ4_1>.size
        case .q8_0: return MemoryLayout<BlockQ8_0>.size
        }
    }

    /// The engine format a tensor of this type loads into without loss.
    public var engineFormat: WeightFormat {
        switch self {
        case .f32: return WeightFormat(valid: .f32, group: 0)
        case .f16: return WeightFormat(valid: .f16, group: 0)
        case .bf16: return WeightFormat(valid: .bf16, group: 0)
        case .q4_0: return WeightFormat(valid: .int4sym, group: 32)
        case .q4_1: return WeightFormat(valid: .int4asym, group: 32)
        case .q8_0: return WeightFormat(valid: .int8group, group: 32)
        }
    }

    public var description: String {
        switch self {
        case .f32: return "F32"
        case .f16: return "F16"
        case .bf16: return "BF16"
        case .q4_0: return "Q4_0"
        case .q4_1: return "Q4_1"
        case .q8_0: return "Q8_0"
        }
    }
}

// MARK: - Packed blocks (ggml layout; sizes checked in tests: 18, 20 and 34 bytes)

/// 32 weights: w = d·(q − 8); qs[j] holds element j (low nibble) and j + 16 (high nibble).
public struct BlockQ4_0 {
    public var d: Float16
    public var qs: InlineArray<16, UInt8>
}

/// 32 weights: w = d·q + m; nibbles as Q4_0.
public struct BlockQ4_1 {
    public var d: Float16
    public var m: Float16
    public var qs: InlineArray<16, UInt8>
}

/// 32 weights: w = d·q, q signed.
public struct BlockQ8_0 {
    public var d: Float16
    public var qs: InlineArray<32, Int8>
}
