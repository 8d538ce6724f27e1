import CActSparse

// ggml's 32-element types: an f16 scale d (and min m), then the codes. Checked against the PyPI `gguf`
// package's numpy dequantizer (Tests/ActSparseModelTests/QuantGoldenTests).

/// Q8_0: d, then 32 int8 codes; w = d·q.
enum Q8_0Row: GGMLTypeRow {
    static let traits = GGMLType.Traits(name: "Q8_0", blockSize: 32, blockBytes: 34, engine: .int8group, repack: .direct)
    static func unpack(_ b: UnsafeRawPointer, codes: UnsafeMutablePointer<UInt8>, scale: UnsafeMutablePointer<UInt16>,
                       minimum: UnsafeMutablePointer<UInt16>) -> (Float16, Float16) {
        for j in 0..<32 { codes[j] = b.load(fromByteOffset: 2 + j, as: UInt8.self) }
        scale[0] = b.loadUnaligned(as: UInt16.self)
        return (0, 0)
    }
    static func checkFinite(_ b: UnsafeRawPointer) -> Bool { b.loadUnaligned(as: Float16.self).isFinite }
    static func encode(_ v: ArraySlice<Float>, into out: inout [UInt8]) {
        let d = Float(Float16(v.map(abs).max()! / 127)), inv: Float = d > 0 ? 1 / d : 0
        out += BlockBytes.f16(d)
        for x in v { out.append(UInt8(bitPattern: Int8(min(127, max(-127, (x * inv).rounded()))))) }
    }
    static func randomize(_ p: UnsafeMutableRawPointer, std: Float, rng: inout SplitMix) {
        BlockBytes.put16(p, 0, std / (255 / BlockBytes.sqrt12))
    }
}

/// Q4_0 and Q5_0: d, [qh: a 32-bit plane of fifth bits], 16 bytes of nibbles (element j low, j + 16 high);
/// w = d·(q − 8) or d·(q − 16). Q4_1 and Q5_1 add a min m after d: w = d·q + m.
protocol LegacyRow: GGMLTypeRow {
    /// 4 or 5 bits per code.
    static var bits: Int { get }
    /// An f16 min after d (Q4_1, Q5_1).
    static var hasMin: Bool { get }
}

extension LegacyRow {
    static var codesAt: Int { hasMin ? 4 : 2 }

    static func unpack(_ b: UnsafeRawPointer, codes: UnsafeMutablePointer<UInt8>, scale: UnsafeMutablePointer<UInt16>,
                       minimum: UnsafeMutablePointer<UInt16>) -> (Float16, Float16) {
        if bits == 5 { Legacy.unpackFive(b + codesAt, codes) } else { Legacy.unpackNibbles(b + codesAt, codes) }
        return scales(b, scale, minimum)
    }
    static func unpackFast(_ b: UnsafeRawPointer, codes: UnsafeMutablePointer<UInt8>,
                           scale: UnsafeMutablePointer<UInt16>, minimum: UnsafeMutablePointer<UInt16>) -> (Float16, Float16) {
        guard bits == 5 else { return unpack(b, codes: codes, scale: scale, minimum: minimum) }
        let h = b.assumingMemoryBound(to: UInt8.self) + codesAt
        actsparse_unpack_q5(h, h + 4, codes)
        return scales(b, scale, minimum)
    }
    static func scales(_ b: UnsafeRawPointer, _ scale: UnsafeMutablePointer<UInt16>,
                       _ minimum: UnsafeMutablePointer<UInt16>) -> (Float16, Float16) {
        scale[0] = b.loadUnaligned(as: UInt16.self)
        if hasMin { minimum[0] = b.loadUnaligned(fromByteOffset: 2, as: UInt16.self) }
        return (0, 0)
    }
    static func checkFinite(_ b: UnsafeRawPointer) -> Bool {
        b.loadUnaligned(as: Float16.self).isFinite && (!hasMin || b.loadUnaligned(fromByteOffset: 2, as: Float16.self).isFinite)
    }
    static func encode(_ v: ArraySlice<Float>, into out: inout [UInt8]) {
        if hasMin { Legacy.encodeAsym(v, bits: bits, into: &out) } else { Legacy.encodeSym(v, bits: bits, into: &out) }
    }
    /// Codes uniform on the grid: w = d·(q − mid) has std d·(levels / √12).
    static func randomize(_ p: UnsafeMutableRawPointer, std: Float, rng: inout SplitMix) {
        let levels = Float(1 << bits), d = std / (levels / BlockBytes.sqrt12)
        BlockBytes.put16(p, 0, d)
        if hasMin { BlockBytes.put16(p, 2, -d * (levels - 1) / 2) }
    }
}

enum Q4_0Row: LegacyRow {
    static let traits = GGMLType.Traits(name: "Q4_0", blockSize: 32, blockBytes: 18, engine: .int4sym, repack: .direct)
    static let bits = 4, hasMin = false
}

enum Q5_0Row: LegacyRow {
    static let traits = GGMLType.Traits(name: "Q5_0", blockSize: 32, blockBytes: 22, engine: .int5sym)
    static let bits = 5, hasMin = false
}

enum Q4_1Row: LegacyRow {
    static let traits = GGMLType.Traits(name: "Q4_1", blockSize: 32, blockBytes: 20, engine: .int4asym, repack: .direct)
    static let bits = 4, hasMin = true
}

enum Q5_1Row: LegacyRow {
    static let traits = GGMLType.Traits(name: "Q5_1", blockSize: 32, blockBytes: 24, engine: .int5asym)
    static let bits = 5, hasMin = true
}

/// What the 32-element rows share.
enum Legacy {
    /// 16 bytes at qs: element j the low nibble of byte j, element j + 16 the high one.
    static func unpackNibbles(_ qs: UnsafeRawPointer, _ codes: UnsafeMutablePointer<UInt8>) {
        for j in 0..<16 {
            let v = qs.load(fromByteOffset: j, as: UInt8.self)
            codes[j] = v & 15; codes[j + 16] = v >> 4
        }
    }

    /// qh (32 bits, bit j: element j's bit 4) at h, then the nibbles.
    static func unpackFive(_ h: UnsafeRawPointer, _ codes: UnsafeMutablePointer<UInt8>) {
        let qh = h.loadUnaligned(as: UInt32.self)
        for j in 0..<16 {
            let v = h.load(fromByteOffset: 4 + j, as: UInt8.self)
            codes[j] = (v & 15) | UInt8((qh >> UInt32(j)) & 1) << 4
            codes[j + 16] = (v >> 4) | UInt8((qh >> UInt32(j + 16)) & 1) << 4
        }
    }

    static func finiteScaleAndMin(_ b: UnsafeRawPointer) -> Bool {
        b.loadUnaligned(as: Float16.self).isFinite && b.loadUnaligned(fromByteOffset: 2, as: Float16.self).isFinite
    }

    /// d = max|v| / (z − 1) with z = 2^(bits − 1); codes q + z.
    static func encodeSym(_ v: ArraySlice<Float>, bits: Int, into out: inout [UInt8]) {
        let z = Float(1 << (bits - 1))
        let d = Float(Float16(v.map(abs).max()! / (z - 1))), inv: Float = d > 0 ? 1 / d : 0
        let codes = v.map { BlockBytes.code($0, inv, -z, z - 1, offset: z) }
        out += BlockBytes.f16(d)
        if bits == 5 { out += BlockBytes.le32(BlockBytes.highBits(codes)) }
        out += BlockBytes.nibbles(codes)
    }

    /// d = (max − min) / qmax, m = min.
    static func encodeAsym(_ v: ArraySlice<Float>, bits: Int, into out: inout [UInt8]) {
        let qmax = Float((1 << bits) - 1)
        let lo = v.min()!, d = Float(Float16((v.max()! - lo) / qmax)), m = Float(Float16(lo))
        let inv: Float = d > 0 ? 1 / d : 0
        let codes = v.map { BlockBytes.code($0 - m, inv, 0, qmax) }
        out += BlockBytes.f16(d) + BlockBytes.f16(m)
        if bits == 5 { out += BlockBytes.le32(BlockBytes.highBits(codes)) }
        out += BlockBytes.nibbles(codes)
    }
}
