/// A weight format: the storage of one weight code plus how codes are scaled back to real values.
/// This is the one table of per-format traits; kernels dispatch through `WeightFormat.Kind.codec`.
public struct WeightFormat: Hashable, Sendable, CustomStringConvertible {
    public enum Kind: String, CaseIterable, Sendable {
        case f32, f16, bf16
        /// int8, symmetric, one f32 scale per OC: w = s[o]·q
        case int8sym
        /// int8, asymmetric, one f32 scale and a uint8 zero point per OC: w = s[o]·(q − z[o])
        case int8asym
        /// int8, symmetric, one f16 scale per (group of G input channels, OC) — GGUF Q8_0 with G = 32: w = d·q
        case int8group
        /// int4, symmetric, one f16 scale per (group, OC) — GGUF Q4_0 with G = 32: w = d·(q − 8), q ∈ 0…15
        case int4sym
        /// int4, asymmetric, f16 scale and min per (group, OC) — GGUF Q4_1 with G = 32: w = d·q + m, q ∈ 0…15
        case int4asym
    }

    /// How stored codes become weights.
    public enum Scaling: Sendable {
        /// The codes are the weights (float formats).
        case none
        /// One f32 scale (and optional zero point) per OC for all input channels.
        case perOC
        /// One f16 scale (and optional min) per (group, OC).
        case perGroup
    }

    public let kind: Kind
    /// Input channels per scale group (grouped formats); 0 otherwise.
    public let group: Int


    public init(_ kind: Kind, group: Int = 0) throws {
        self.kind = kind
        if kind.scaling == .perGroup {
            guard group > 0, group % 32 == 0 else {
                throw ActSparseError.invalidValue(
                    what: "group size for \(kind.rawValue)", expected: "a positive multiple of 32 (32, 64, 128)",
                    found: "\(group)")
            }
            self.group = group
        } else {
            self.group = 0
        }
    }

    /// A format whose group is known to be valid (a multiple of 32 for grouped kinds): the GGUF types' formats.
    init(valid kind: Kind, group: Int) {
        self.kind = kind
        self.group = kind.scaling == .perGroup ? group : 0
    }

    /// Parses `f32`, `f16`, `bf16`, `int8`/`int8sym`, `int8asym`, `int8group`/`q8_0`, `int4`/`int4sym`/`q4_0`,
    /// `int4asym`/`q4_1`; a `-gNN` suffix sets the group (else `defaultGroup`; 32 for the q* names).
    public init(parsing text: String, defaultGroup: Int = 128) throws {
        var name = text.lowercased()
        var group = defaultGroup
        if let r = name.firstRange(of: "-g") {
            guard let g = Int(name[r.upperBound...]) else {
                throw ActSparseError.invalidValue(what: "format \"\(text)\"", expected: "NAME or NAME-gGROUP",
                                                  found: text)
            }
            group = g
            name = String(name[..<r.lowerBound])
        }
        let aliases: [String: (Kind, Int?)] = [
            "int8": (.int8sym, nil), "q8_0": (.int8group, 32), "int4": (.int4sym, nil),
            "q4_0": (.int4sym, 32), "q4_1": (.int4asym, 32),
        ]
        if let (k, g) = aliases[name] {
            try self.init(k, group: g ?? group)
        } else if let k = Kind(rawValue: name) {
            try self.init(k, group: group)
        } else {
            throw ActSparseError.invalidValue(
                what: "weight format", expected: Kind.allCases.map(\.rawValue).joined(separator: "|"), found: text)
        }
    }

    public var description: String { group > 0 ? "\(kind.rawValue)-g\(group)" : kind.rawValue }
    public var scaling: Scaling { kind.scaling }

    /// Bytes of codes in one plain row of `oc` output channels.
    public func rowBytes(_ oc: Int) -> Int { kind.codec.rowBytes(oc) }

    /// Bytes of scales/offsets per OC per scale unit (group or whole IC).
    public var scaleBytesPerUnit: Int {
        switch kind {
        case .f32, .f16, .bf16: return 0
        case .int8sym: return 4
        case .int8asym: return 8
        case .int8group, .int4sym: return 2
        case .int4asym: return 4
        }
    }

    /// Bytes a full (dense) read of an [IC, OC] weight touches: codes plus scales.
    public func denseBytes(ic: Int, oc: Int) -> Int {
        let units = scaling == .perGroup ? (ic + group - 1) / group : (scaling == .perOC ? 1 : 0)
        return ic * rowBytes(oc) + units * oc * scaleBytesPerUnit
    }
}

extension WeightFormat.Kind {
    public var scaling: WeightFormat.Scaling {
        switch self {
        case .f32, .f16, .bf16: return .none
        case .int8sym, .int8asym: return .perOC
        case .int8group, .int4sym, .int4asym: return .perGroup
        }
    }

    /// The storage codec: the single place that maps a format to its code type.
    var codec: any RowCodec.Type {
        switch self {
        case .f32: return F32Codec.self
        case .f16: return F16Codec.self
        case .bf16: return BF16Codec.self
        case .int8sym, .int8group: return I8Codec.self
        case .int8asym: return U8Codec.self
        case .int4sym, .int4asym: return U4Codec.self
        }
    }

    /// Calls `visitor` with the concrete codec type, so that generic kernels are specialised per format.
    func visit<V: CodecVisitor>(_ visitor: V) -> V.Result {
        switch self {
        case .f32: return visitor.visit(F32Codec.self)
        case .f16: return visitor.visit(F16Codec.self)
        case .bf16: return visitor.visit(BF16Codec.self)
        case .int8sym, .int8group: return visitor.visit(I8Codec.self)
        case .int8asym: return visitor.visit(U8Codec.self)
        case .int4sym, .int4asym: return visitor.visit(U4Codec.self)
        }
    }

    /// The constant subtracted from int4 sym codes (w = d·(q − 8)); 0 for every other format.
    var codeOffset: Float { self == .int4sym ? 8 : 0 }
}

/// A generic operation run once per concrete codec (see `WeightFormat.Kind.visit`).
protocol CodecVisitor {
    associatedtype Result
    func visit<C: RowCodec>(_ codec: C.Type) -> Result
}
