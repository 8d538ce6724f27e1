/// Tensor element types of GGUF files that ActSparse reads. Each has one row (`GGUF/Types/`, `row` below): its
/// geometry, the engine format it loads into without loss, its block decoders, finite check, encoder and random
/// blocks.
public enum GGMLType: UInt32, Sendable, CaseIterable, CustomStringConvertible {
    case f32 = 0, f16 = 1, q4_0 = 2, q4_1 = 3, q5_0 = 6, q5_1 = 7, q8_0 = 8, q3_K = 11, q4_K = 12, q5_K = 13, q6_K = 14
    case iq4_nl = 20, bf16 = 30

    public struct Traits: Sendable {
        public let name: String
        /// Elements per block (1 for plain floats) and bytes per block.
        public let blockSize: Int, blockBytes: Int
        /// The engine format a tensor of this type loads into without loss (group 32, or the k-quant's own).
        public let engine: WeightFormat.Kind
        /// How the loader moves it into the plain layout.
        public let repack: Repack

        public enum Repack: Sendable {
            /// Values copied as they are (float types).
            case values
            /// Codes moved by byte transposes straight from the block (Q4_0, Q4_1, Q8_0: the code bytes are the
            /// plain layout's).
            case direct
            /// Each block through the row's `unpackFast`, then transposed and packed (every other type).
            case blocks
        }

        public init(name: String, blockSize: Int, blockBytes: Int, engine: WeightFormat.Kind, repack: Repack = .blocks) {
            self.name = name; self.blockSize = blockSize; self.blockBytes = blockBytes; self.engine = engine
            self.repack = repack
        }
    }

    /// The row of this type: everything about it in one place (`GGUF/Types/`).
    var row: any GGMLTypeRow.Type {
        switch self {
        case .f32: F32Row.self
        case .f16: F16Row.self
        case .bf16: BF16Row.self
        case .q8_0: Q8_0Row.self
        case .q4_0: Q4_0Row.self
        case .q4_1: Q4_1Row.self
        case .q5_0: Q5_0Row.self
        case .q5_1: Q5_1Row.self
        case .q3_K: Q3_KRow.self
        case .q4_K: Q4_KRow.self
        case .q5_K: Q5_KRow.self
        case .q6_K: Q6_KRow.self
        case .iq4_nl: IQ4_NLRow.self
        }
    }

    public var traits: Traits { row.traits }

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

// MARK: - Block decoding (each type's row; checked against the PyPI `gguf` package's numpy dequantizer)

extension GGMLType {
    /// `unpack` through the vectorised C decoder where the type has one (loading's fast path).
    @inline(__always)
    func unpackFast(_ b: UnsafeRawPointer, codes: UnsafeMutablePointer<UInt8>, scale: UnsafeMutablePointer<UInt16>,
                    minimum: UnsafeMutablePointer<UInt16>) -> (Float16, Float16) {
        row.unpackFast(b, codes: codes, scale: scale, minimum: minimum)
    }

    /// One quantized block as integer codes and scale parameters in the engine format's terms (see
    /// `GGMLTypeRow.unpack`); returns the k-quant super-block's D and Dmin (zero otherwise).
    @inline(__always)
    func unpack(_ b: UnsafeRawPointer, codes: UnsafeMutablePointer<UInt8>, scale: UnsafeMutablePointer<UInt16>,
                minimum: UnsafeMutablePointer<UInt16>) -> (Float16, Float16) {
        row.unpack(b, codes: codes, scale: scale, minimum: minimum)
    }

    /// Scale parameters in a block that must be finite for the file to mean numbers (d, m; D, Dmin).
    func checkFinite(_ b: UnsafeRawPointer) -> Bool { row.checkFinite(b) }
}
