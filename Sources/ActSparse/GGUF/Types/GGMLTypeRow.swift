import CActSparse

/// One GGUF tensor type, whole: its geometry and the engine format it loads into without loss, how its blocks
/// decode (a Swift reference and, where one exists, the vectorised C decoder), which fields must be finite, how
/// values encode into it and how random blocks of it are made. `GGMLType.row` is the one table of rows; adding a
/// type is one row here, one C decoder and one golden row (Tests/ActSparseModelTests/Golden/make-quant-golden.py).
protocol GGMLTypeRow {
    static var traits: GGMLType.Traits { get }
    /// Codes and scales of one block in the engine format's terms: codes[j] for element j (int8 codes as their
    /// bit pattern); per group g of the block `scale[g]`/`minimum[g]`: f16 bit patterns of d and m (32-element
    /// formats) or the integer sub-scale and sub-min (k-quants; a signed sub-scale as its bit pattern). Returns
    /// the k-quant super-block's D and Dmin (zero otherwise). The reference the C decoders are tested against.
    static func unpack(_ b: UnsafeRawPointer, codes: UnsafeMutablePointer<UInt8>, scale: UnsafeMutablePointer<UInt16>,
                       minimum: UnsafeMutablePointer<UInt16>) -> (Float16, Float16)
    /// `unpack` through the C decoder (loading's fast path); defaults to `unpack`.
    static func unpackFast(_ b: UnsafeRawPointer, codes: UnsafeMutablePointer<UInt8>,
                           scale: UnsafeMutablePointer<UInt16>, minimum: UnsafeMutablePointer<UInt16>) -> (Float16, Float16)
    /// Whether the scale fields a block needs to mean numbers (d, m; D, Dmin) are finite.
    static func checkFinite(_ b: UnsafeRawPointer) -> Bool
    /// One block of values (`traits.blockSize` of them) appended as this type's bytes: round-to-nearest on a
    /// min/max grid, not llama.cpp's error-minimising search — a correct block with the type's exact layout.
    static func encode(_ v: ArraySlice<Float>, into out: inout [UInt8])
    /// Sets the scale fields of a block of random bytes so that its weights have a standard deviation of about
    /// `std` and a mean of about 0 (float types draw the value itself).
    static func randomize(_ p: UnsafeMutableRawPointer, std: Float, rng: inout SplitMix)
}

extension GGMLTypeRow {
    static func unpackFast(_ b: UnsafeRawPointer, codes: UnsafeMutablePointer<UInt8>,
                           scale: UnsafeMutablePointer<UInt16>, minimum: UnsafeMutablePointer<UInt16>) -> (Float16, Float16) {
        unpack(b, codes: codes, scale: scale, minimum: minimum)
    }
}

// MARK: - Helpers the rows share

enum BlockBytes {
    static func f16(_ x: Float) -> [UInt8] { withUnsafeBytes(of: Float16(x).bitPattern.littleEndian, Array.init) }
    static func le32(_ x: UInt32) -> [UInt8] { withUnsafeBytes(of: x.littleEndian, Array.init) }
    static func put16(_ p: UnsafeMutableRawPointer, _ off: Int, _ x: Float) {
        p.storeBytes(of: Float16(x), toByteOffset: off, as: Float16.self)
    }
    /// round(x·inv) clamped to lo…hi, plus `offset` (so that signed grids land on 0…255 codes).
    static func code(_ x: Float, _ inv: Float, _ lo: Float, _ hi: Float, offset: Float = 0) -> UInt8 {
        UInt8(min(hi, max(lo, (x * inv).rounded())) + offset)
    }
    /// Bit 4 of 32 codes as a word (Q5_0/Q5_1's qh): bit j = code j's bit 4.
    static func highBits(_ codes: [UInt8]) -> UInt32 {
        var h: UInt32 = 0
        for j in 0..<32 { h |= UInt32((codes[j] >> 4) & 1) << UInt32(j) }
        return h
    }
    /// Codes j and j + 16 of a 32-element block in byte j (low and high nibble).
    static func nibbles(_ codes: [UInt8]) -> [UInt8] { (0..<16).map { (codes[$0] & 15) | (codes[$0 + 16] & 15) << 4 } }
    /// √12: a uniform code on `levels` values has standard deviation levels / √12.
    static let sqrt12 = Float(12).squareRoot()
}
