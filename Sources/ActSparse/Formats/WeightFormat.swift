/// A weight format: the storage of one weight code plus how codes are scaled back to real values.
/// Per-format traits live in one table, `WeightFormat.Kind.traits` (FormatTraits.swift).
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
        /// int5, symmetric — GGUF Q5_0 with G = 32: w = d·(q − 16), q ∈ 0…31
        case int5sym
        /// int5, asymmetric — GGUF Q5_1 with G = 32: w = d·q + m
        case int5asym
        /// GGUF Q4_K: super-blocks of 256, groups of 32, w = (D·sc)·q − Dmin·mn, q ∈ 0…15, sc, mn ∈ 0…63
        case q4k = "q4_k"
        /// GGUF Q5_K: as Q4_K with q ∈ 0…31
        case q5k = "q5_k"
        /// GGUF Q6_K: super-blocks of 256, groups of 16, w = (D·sc)·(q − 32), q ∈ 0…63, sc ∈ −128…127
        case q6k = "q6_k"
    }

    /// How stored codes become weights (coarse view of `FormatTraits.Scales`).
    public enum Scaling: Sendable {
        /// The codes are the weights (float formats).
        case none
        /// One f32 scale (and optional zero point) per OC for all input channels.
        case perOC
        /// One scale (and optional min) per (group, OC).
        case perGroup
    }

    public let kind: Kind
    /// Input channels per scale group (grouped formats); 0 otherwise.
    public let group: Int


    public init(_ kind: Kind, group: Int = 0) throws {
        self.kind = kind
        let t = kind.traits
        if let fixed = t.fixedGroup {
            self.group = fixed  // the format fixes it
        } else if t.isGrouped {
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
        self.group = kind.traits.fixedGroup ?? (kind.scaling == .perGroup ? group : 0)
    }

    /// Parses `f32`, `f16`, `bf16`, `int8`/`int8sym`, `int8asym`, `int8group`/`q8_0`, `int4`/`int4sym`/`q4_0`,
    /// `int4asym`/`q4_1`, `int5sym`/`q5_0`, `int5asym`/`q5_1`, `q4_k`, `q5_k`, `q6_k`; a `-gNN` suffix sets the group (else `defaultGroup`; 32 for the q* names).
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
            "q4_0": (.int4sym, 32), "q4_1": (.int4asym, 32), "q5_0": (.int5sym, 32), "q5_1": (.int5asym, 32),
            "q4k": (.q4k, nil), "q5k": (.q5k, nil), "q6k": (.q6k, nil),
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

    public var description: String {
        group > 0 && kind.traits.fixedGroup == nil ? "\(kind.rawValue)-g\(group)" : kind.rawValue
    }
    public var traits: FormatTraits { kind.traits }
    public var scaling: Scaling { kind.scaling }

    /// Bytes of codes in one plain row of `oc` output channels.
    public func rowBytes(_ oc: Int) -> Int { kind.traits.codec.type.rowBytes(oc) }

    /// Bytes a full (dense) read of an [IC, OC] weight touches: codes plus scales (and super-block scales).
    public func denseBytes(ic: Int, oc: Int) -> Int {
        let t = kind.traits
        let units = t.isGrouped ? (ic + group - 1) / group : (scaling == .perOC ? 1 : 0)
        let supers = t.superBlock > 0 ? (ic + t.superBlock - 1) / t.superBlock : 0
        return ic * rowBytes(oc) + units * oc * t.unitBytes + supers * oc * t.superBytes
    }
}

extension WeightFormat.Kind {
    public var scaling: WeightFormat.Scaling {
        switch traits.scales {
        case .none: return .none
        case .perOC: return .perOC
        case .group, .superGroup: return .perGroup
        }
    }

    /// The constant subtracted from codes of symmetric formats (w = d·(q − z)); 0 for every other format.
    var codeOffset: Float { traits.codeOffset }
}
