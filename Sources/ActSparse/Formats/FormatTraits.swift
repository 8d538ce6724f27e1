/// Everything that differs between weight formats, as data: how one code is stored, how codes are scaled back
/// to weights, and the code grid the quantizer aims at. `WeightFormat.Kind.traits` is the one table; storage,
/// kernels, epilogues and the GGUF loader read it instead of switching over formats.
/// Adding a format = one row here (+ a GGML row in `GGMLType.traits` if GGUF files carry it) + its tests.
public struct FormatTraits: Sendable {
    /// Storage of one code in a plain row (see `RowCodec`).
    public enum Codec: Sendable { case f32, f16, bf16, i8, u8, u4, u5, u6 }

    /// How codes become weights. G = the format's group (input channels per scale), S = `superBlock`.
    public enum Scales: Sendable, Equatable {
        /// The codes are the weights.
        case none
        /// w = s[o]·(q − z[o]) with f32 s (and, with `zero`, an f32 zero point z) per output channel.
        case perOC(zero: Bool)
        /// w = d·(q − codeOffset), or with `min` w = d·q + m: f16 d (and m) per (group, OC).
        case group(min: Bool)
        /// k-quants: w = (D·sc)·(q − codeOffset), or with `min` w = (D·sc)·q − Dmin·mn: an integer sub-scale sc
        /// (and sub-min mn; signed sc when `signed`) per (group, OC) and f16 D (and Dmin) per (super-block, OC).
        /// D·sc is exact in f32 but not in f16: keeping the structure keeps the file's values bit for bit.
        case superGroup(min: Bool, signed: Bool)
    }

    public let codec: Codec
    public let scales: Scales
    /// Constant subtracted from codes before scaling (int4 sym 8, int5 sym 16, Q6_K 32); 0 otherwise.
    public let codeOffset: Float
    /// The group the format fixes (k-quants: 32, Q6_K: 16); nil = chosen per weight (multiple of 32).
    public let fixedGroup: Int?
    /// Input channels per super-block (k-quants); 0 otherwise.
    public let superBlock: Int
    /// Largest code (codes are 0…maxCode, or −maxCode…maxCode for signed codecs): the quantizer's grid.
    public let maxCode: Float

    /// Bytes per (group, OC) of scale data: d (+ m) or sc (+ mn); per-OC formats count their OC-wide scales.
    public var unitBytes: Int {
        switch scales {
        case .none: return 0
        case .perOC(let zero): return zero ? 8 : 4
        case .group(let min): return min ? 4 : 2
        case .superGroup(let min, _): return min ? 2 : 1
        }
    }
    /// Bytes per (super-block, OC): D (+ Dmin).
    public var superBytes: Int {
        if case .superGroup(let min, _) = scales { return min ? 4 : 2 }
        return 0
    }
    public var hasMin: Bool {
        switch scales {
        case .group(let m), .superGroup(let m, _): return m
        default: return false
        }
    }
    public var isGrouped: Bool {
        switch scales {
        case .group, .superGroup: return true
        default: return false
        }
    }
}

extension WeightFormat.Kind {
    /// The table of formats.
    public var traits: FormatTraits {
        switch self {
        case .f32: return .init(codec: .f32, scales: .none, codeOffset: 0, fixedGroup: nil, superBlock: 0, maxCode: 0)
        case .f16: return .init(codec: .f16, scales: .none, codeOffset: 0, fixedGroup: nil, superBlock: 0, maxCode: 0)
        case .bf16: return .init(codec: .bf16, scales: .none, codeOffset: 0, fixedGroup: nil, superBlock: 0, maxCode: 0)
        case .int8sym:
            return .init(codec: .i8, scales: .perOC(zero: false), codeOffset: 0, fixedGroup: nil, superBlock: 0, maxCode: 127)
        case .int8asym:
            return .init(codec: .u8, scales: .perOC(zero: true), codeOffset: 0, fixedGroup: nil, superBlock: 0, maxCode: 255)
        case .int8group:
            return .init(codec: .i8, scales: .group(min: false), codeOffset: 0, fixedGroup: nil, superBlock: 0, maxCode: 127)
        case .int4sym:
            return .init(codec: .u4, scales: .group(min: false), codeOffset: 8, fixedGroup: nil, superBlock: 0, maxCode: 15)
        case .int4asym:
            return .init(codec: .u4, scales: .group(min: true), codeOffset: 0, fixedGroup: nil, superBlock: 0, maxCode: 15)
        case .int5sym:
            return .init(codec: .u5, scales: .group(min: false), codeOffset: 16, fixedGroup: nil, superBlock: 0, maxCode: 31)
        case .int5asym:
            return .init(codec: .u5, scales: .group(min: true), codeOffset: 0, fixedGroup: nil, superBlock: 0, maxCode: 31)
        case .q4k:
            return .init(codec: .u4, scales: .superGroup(min: true, signed: false), codeOffset: 0, fixedGroup: 32,
                         superBlock: 256, maxCode: 15)
        case .q5k:
            return .init(codec: .u5, scales: .superGroup(min: true, signed: false), codeOffset: 0, fixedGroup: 32,
                         superBlock: 256, maxCode: 31)
        case .q6k:
            return .init(codec: .u6, scales: .superGroup(min: false, signed: true), codeOffset: 32, fixedGroup: 16,
                         superBlock: 256, maxCode: 63)
        }
    }
}

extension FormatTraits.Codec {
    /// The storage type (protocol existential: reference and setup paths only).
    var type: any RowCodec.Type {
        switch self {
        case .f32: return F32Codec.self
        case .f16: return F16Codec.self
        case .bf16: return BF16Codec.self
        case .i8: return I8Codec.self
        case .u8: return U8Codec.self
        case .u4: return U4Codec.self
        case .u5: return U5Codec.self
        case .u6: return U6Codec.self
        }
    }

    /// Calls `visitor` with the concrete codec type, so that generic kernels are specialised per storage.
    func visit<V: CodecVisitor>(_ visitor: V) -> V.Result {
        switch self {
        case .f32: return visitor.visit(F32Codec.self)
        case .f16: return visitor.visit(F16Codec.self)
        case .bf16: return visitor.visit(BF16Codec.self)
        case .i8: return visitor.visit(I8Codec.self)
        case .u8: return visitor.visit(U8Codec.self)
        case .u4: return visitor.visit(U4Codec.self)
        case .u5: return visitor.visit(U5Codec.self)
        case .u6: return visitor.visit(U6Codec.self)
        }
    }
}

extension FormatTraits {
    /// The int8-activation GEMV's name for this storage (`actsparse_q8_job.codec`), when it runs it: 4- to 6-bit codes
    /// in groups with an integer code offset. The kernel handles 8-bit codes too (codec 8 / −8, tested), but the f32
    /// kernel already reads them near bandwidth and was measured faster (docs/design.md, "Kernel tuning"); float codes and
    /// per-OC scales stay f32.
    var q8Codec: Int32? { q8CodecAny.flatMap { abs($0) == 8 ? nil : $0 } }

    /// Every storage the kernel can read (`SparseFC.decodeInt8` runs it on 8-bit codes too).
    var q8CodecAny: Int32? {
        guard isGrouped, codeOffset == codeOffset.rounded() else { return nil }
        switch codec {
        case .u4: return 4
        case .u5: return 5
        case .u6: return 6
        case .u8: return 8
        case .i8: return -8
        case .f32, .f16, .bf16: return nil
        }
    }
}

/// A generic operation run once per concrete codec (see `FormatTraits.Codec.visit`).
protocol CodecVisitor {
    associatedtype Result
    func visit<C: RowCodec>(_ codec: C.Type) -> Result
}
