import CActSparse

/// IQ4_NL: d, then 16 bytes of 4-bit indices into a fixed non-linear table (element j the low nibble of byte j,
/// j + 16 the high one); w = d·table[q]. Loaded exactly as Q8_0's int8 codes (the table's values) until a
/// code-book kernel exists.
enum IQ4_NLRow: GGMLTypeRow {
    static let traits = GGMLType.Traits(name: "IQ4_NL", blockSize: 32, blockBytes: 18, engine: .int8group)
    /// ggml's `kvalues_iq4nl` (the C decoder holds the same table).
    static let table: [Int8] = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113]

    static func unpack(_ b: UnsafeRawPointer, codes: UnsafeMutablePointer<UInt8>, scale: UnsafeMutablePointer<UInt16>,
                       minimum: UnsafeMutablePointer<UInt16>) -> (Float16, Float16) {
        for j in 0..<16 {
            let v = b.load(fromByteOffset: 2 + j, as: UInt8.self)
            codes[j] = UInt8(bitPattern: table[Int(v & 15)])
            codes[j + 16] = UInt8(bitPattern: table[Int(v >> 4)])
        }
        scale[0] = b.loadUnaligned(as: UInt16.self)
        return (0, 0)
    }
    static func unpackFast(_ b: UnsafeRawPointer, codes: UnsafeMutablePointer<UInt8>,
                           scale: UnsafeMutablePointer<UInt16>, minimum: UnsafeMutablePointer<UInt16>) -> (Float16, Float16) {
        actsparse_unpack_iq4nl(b.assumingMemoryBound(to: UInt8.self) + 2, codes)
        scale[0] = b.loadUnaligned(as: UInt16.self)
        return (0, 0)
    }
    static func checkFinite(_ b: UnsafeRawPointer) -> Bool { b.loadUnaligned(as: Float16.self).isFinite }
    /// The value of largest magnitude lands on the table's −127 end (as llama.cpp's quantizer does: the table
    /// reaches only 113 on the positive side), every other on its nearest entry.
    static func encode(_ v: ArraySlice<Float>, into out: inout [UInt8]) {
        let t = table.map(Float.init)
        let big = v.max { abs($0) < abs($1) }!
        let d = Float(Float16(big / -127)), inv: Float = d != 0 ? 1 / d : 0
        let idx = v.map { x in UInt8(t.indices.min { abs(t[$0] - x * inv) < abs(t[$1] - x * inv) }!) }
        out += BlockBytes.f16(d)
        out += (0..<16).map { idx[$0] | idx[$0 + 16] << 4 }
    }
    static func randomize(_ p: UnsafeMutableRawPointer, std: Float, rng: inout SplitMix) {
        BlockBytes.put16(p, 0, std / 70)  // the table's values have a standard deviation of about 70
    }
}
