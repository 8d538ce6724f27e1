import CActSparse

/// Storage of one plain row of codes: `oc` values, OC contiguous.
/// `load32` reads the raw codes of columns o..<o+32 (o a multiple of 32, the block fully inside the row) as floats;
/// `value`/`store` address any single column, tails included. Scaling is not the codec's business.
protocol RowCodec {
    static func rowBytes(_ oc: Int) -> Int
    /// Bytes from the start of a row to column o's 32-column block (o a multiple of 32).
    static func blockOffset(_ o: Int) -> Int
    static func load32(_ row: UnsafeRawPointer, _ o: Int) -> (SIMD16<Float>, SIMD16<Float>)
    static func value(_ row: UnsafeRawPointer, _ o: Int, oc: Int) -> Float
    /// Stores `code` (already rounded and in range for the format) at column o.
    static func store(_ row: UnsafeMutableRawPointer, _ o: Int, oc: Int, _ code: Float)
}

// MARK: - Lane conversions
// Standard-library SIMD conversions become out-of-line calls; plain lane loops become single instructions
// (vcvtph2ps, vpmovsxbd + vcvtdq2ps, vpmovzxwd + vpslld) with a target-CPU flag.

@inline(__always) func widen(_ v: SIMD16<Float16>) -> SIMD16<Float> {
    var r = SIMD16<Float>()
    for i in 0..<16 { r[i] = Float(v[i]) }
    return r
}

@inline(__always) func widenBF16(_ v: SIMD16<UInt16>) -> SIMD16<Float> {
    var r = SIMD16<UInt32>()
    for i in 0..<16 { r[i] = UInt32(v[i]) &<< 16 }
    return unsafeBitCast(r, to: SIMD16<Float>.self)
}

@inline(__always) func widen(_ v: SIMD16<Int8>) -> SIMD16<Float> {
    var r = SIMD16<Float>()
    for i in 0..<16 { r[i] = Float(Int32(v[i])) }
    return r
}

@inline(__always) func widen(_ v: SIMD16<UInt8>) -> SIMD16<Float> {
    var r = SIMD16<Float>()
    for i in 0..<16 { r[i] = Float(Int32(v[i])) }
    return r
}

/// p[o ..< o+16] (f16 scales) as f32.
@inline(__always) func loadHalf16(_ p: UnsafePointer<Float16>, _ o: Int) -> SIMD16<Float> {
    widen(UnsafeRawPointer(p + o).loadUnaligned(as: SIMD16<Float16>.self))
}

/// bf16 from f32, round to nearest even (NaN kept quiet).
@inline(__always) func bf16Bits(_ x: Float) -> UInt16 {
    let b = x.bitPattern
    if x.isNaN { return UInt16(b >> 16) | 0x40 }
    return UInt16((b &+ 0x7FFF &+ ((b >> 16) & 1)) >> 16)
}

// MARK: - Codecs

enum F32Codec: RowCodec {
    static func rowBytes(_ oc: Int) -> Int { oc * 4 }
    @inline(__always) static func blockOffset(_ o: Int) -> Int { o * 4 }
    @inline(__always) static func load32(_ row: UnsafeRawPointer, _ o: Int) -> (SIMD16<Float>, SIMD16<Float>) {
        (row.loadUnaligned(fromByteOffset: o * 4, as: SIMD16<Float>.self),
         row.loadUnaligned(fromByteOffset: o * 4 + 64, as: SIMD16<Float>.self))
    }
    @inline(__always) static func value(_ row: UnsafeRawPointer, _ o: Int, oc: Int) -> Float {
        row.loadUnaligned(fromByteOffset: o * 4, as: Float.self)
    }
    static func store(_ row: UnsafeMutableRawPointer, _ o: Int, oc: Int, _ code: Float) {
        row.storeBytes(of: code, toByteOffset: o * 4, as: Float.self)
    }
}

enum F16Codec: RowCodec {
    static func rowBytes(_ oc: Int) -> Int { oc * 2 }
    @inline(__always) static func blockOffset(_ o: Int) -> Int { o * 2 }
    @inline(__always) static func load32(_ row: UnsafeRawPointer, _ o: Int) -> (SIMD16<Float>, SIMD16<Float>) {
        (widen(row.loadUnaligned(fromByteOffset: o * 2, as: SIMD16<Float16>.self)),
         widen(row.loadUnaligned(fromByteOffset: o * 2 + 32, as: SIMD16<Float16>.self)))
    }
    @inline(__always) static func value(_ row: UnsafeRawPointer, _ o: Int, oc: Int) -> Float {
        Float(row.loadUnaligned(fromByteOffset: o * 2, as: Float16.self))
    }
    static func store(_ row: UnsafeMutableRawPointer, _ o: Int, oc: Int, _ code: Float) {
        row.storeBytes(of: Float16(code), toByteOffset: o * 2, as: Float16.self)
    }
}

enum BF16Codec: RowCodec {
    static func rowBytes(_ oc: Int) -> Int { oc * 2 }
    @inline(__always) static func blockOffset(_ o: Int) -> Int { o * 2 }
    @inline(__always) static func load32(_ row: UnsafeRawPointer, _ o: Int) -> (SIMD16<Float>, SIMD16<Float>) {
        (widenBF16(row.loadUnaligned(fromByteOffset: o * 2, as: SIMD16<UInt16>.self)),
         widenBF16(row.loadUnaligned(fromByteOffset: o * 2 + 32, as: SIMD16<UInt16>.self)))
    }
    @inline(__always) static func value(_ row: UnsafeRawPointer, _ o: Int, oc: Int) -> Float {
        Float(bitPattern: UInt32(row.loadUnaligned(fromByteOffset: o * 2, as: UInt16.self)) << 16)
    }
    static func store(_ row: UnsafeMutableRawPointer, _ o: Int, oc: Int, _ code: Float) {
        row.storeBytes(of: bf16Bits(code), toByteOffset: o * 2, as: UInt16.self)
    }
}

enum I8Codec: RowCodec {
    static func rowBytes(_ oc: Int) -> Int { oc }
    @inline(__always) static func blockOffset(_ o: Int) -> Int { o }
    @inline(__always) static func load32(_ row: UnsafeRawPointer, _ o: Int) -> (SIMD16<Float>, SIMD16<Float>) {
        (widen(row.loadUnaligned(fromByteOffset: o, as: SIMD16<Int8>.self)),
         widen(row.loadUnaligned(fromByteOffset: o + 16, as: SIMD16<Int8>.self)))
    }
    @inline(__always) static func value(_ row: UnsafeRawPointer, _ o: Int, oc: Int) -> Float {
        Float(row.load(fromByteOffset: o, as: Int8.self))
    }
    static func store(_ row: UnsafeMutableRawPointer, _ o: Int, oc: Int, _ code: Float) {
        row.storeBytes(of: Int8(code), toByteOffset: o, as: Int8.self)
    }
}

enum U8Codec: RowCodec {
    static func rowBytes(_ oc: Int) -> Int { oc }
    @inline(__always) static func blockOffset(_ o: Int) -> Int { o }
    @inline(__always) static func load32(_ row: UnsafeRawPointer, _ o: Int) -> (SIMD16<Float>, SIMD16<Float>) {
        (widen(row.loadUnaligned(fromByteOffset: o, as: SIMD16<UInt8>.self)),
         widen(row.loadUnaligned(fromByteOffset: o + 16, as: SIMD16<UInt8>.self)))
    }
    @inline(__always) static func value(_ row: UnsafeRawPointer, _ o: Int, oc: Int) -> Float {
        Float(row.load(fromByteOffset: o, as: UInt8.self))
    }
    static func store(_ row: UnsafeMutableRawPointer, _ o: Int, oc: Int, _ code: Float) {
        row.storeBytes(of: UInt8(code), toByteOffset: o, as: UInt8.self)
    }
}

/// Two 4-bit codes per byte. Columns go in blocks of 32: byte k of a block holds column k (low nibble) and
/// column k + 16 (high nibble), so one 16-byte load yields two SIMD16 halves with a mask and a shift.
/// A tail block of r < 32 columns pairs column k with column k + ⌈r/2⌉.
enum U4Codec: RowCodec {
    static func rowBytes(_ oc: Int) -> Int { (oc + 1) / 2 }
    @inline(__always) static func blockOffset(_ o: Int) -> Int { o >> 1 }
    @inline(__always) static func load32(_ row: UnsafeRawPointer, _ o: Int) -> (SIMD16<Float>, SIMD16<Float>) {
        let b = row.loadUnaligned(fromByteOffset: o >> 1, as: SIMD16<UInt8>.self)
        var lo = SIMD16<Int32>(), hi = SIMD16<Int32>()
        for i in 0..<16 { lo[i] = Int32(b[i]) }
        hi = lo &>> 4
        lo = lo & 15
        var fl = SIMD16<Float>(), fh = SIMD16<Float>()
        for i in 0..<16 { fl[i] = Float(lo[i]); fh[i] = Float(hi[i]) }
        return (fl, fh)
    }
    /// Byte offset and shift of column o in a row of oc columns.
    @inline(__always) static func locate(_ o: Int, oc: Int) -> (Int, Int) {
        let base = o & ~31
        let half = min(16, (min(32, oc - base) + 1) / 2)
        let k = o - base
        return k < half ? (base / 2 + k, 0) : (base / 2 + k - half, 4)
    }
    @inline(__always) static func value(_ row: UnsafeRawPointer, _ o: Int, oc: Int) -> Float {
        let (byte, shift) = locate(o, oc: oc)
        return Float((row.load(fromByteOffset: byte, as: UInt8.self) >> shift) & 15)
    }
    static func store(_ row: UnsafeMutableRawPointer, _ o: Int, oc: Int, _ code: Float) {
        let (byte, shift) = locate(o, oc: oc)
        let old = row.load(fromByteOffset: byte, as: UInt8.self)
        let q = UInt8(code) & 15
        row.storeBytes(of: (old & ~(15 << shift)) | (q << shift), toByteOffset: byte, as: UInt8.self)
    }
}

/// The high bits of 5- and 6-bit codes live in 32-bit "bit planes", one per bit, laid out so that a plane
/// broadcast to 16 bytes and masked gives every lane its bit with byte-wide operations only (no per-lane
/// variable shifts — those ran 3–8× slower): column k of a 32-column block sits in byte (k mod 16) mod 4 of the
/// word, at bit (k mod 16) / 4, plus 4 for columns 16…31.
@inline(__always) func planeBit(_ k: Int) -> UInt32 { UInt32(8 * ((k & 15) & 3) + (k & 15) / 4 + (k >= 16 ? 4 : 0)) }

/// 5-bit codes in 20-byte blocks of 32 columns: 16 bytes of low nibbles as U4Codec (byte k = column k low,
/// column k + 16 high), then one bit plane (see `planeBit`) of bit 4. A tail block is padded to full size, so
/// every column has the same place in its block.
enum U5Codec: RowCodec {
    static func rowBytes(_ oc: Int) -> Int { (oc + 31) / 32 * 20 }
    @inline(__always) static func blockOffset(_ o: Int) -> Int { (o >> 5) * 20 }
    @inline(__always) static func load32(_ row: UnsafeRawPointer, _ o: Int) -> (SIMD16<Float>, SIMD16<Float>) {
        let p = row + blockOffset(o)
        var pair = (SIMD16<Float>(), SIMD16<Float>())
        withUnsafeMutableBytes(of: &pair) { actsparse_load_planes(p, 1, $0.baseAddress!.assumingMemoryBound(to: Float.self)) }  // C: CActSparse.h
        return pair
    }
    @inline(__always) static func value(_ row: UnsafeRawPointer, _ o: Int, oc: Int) -> Float {
        let p = row + blockOffset(o), k = o & 31
        let byte = p.load(fromByteOffset: k & 15, as: UInt8.self)
        let nib = k < 16 ? byte & 15 : byte >> 4
        let hb = p.loadUnaligned(fromByteOffset: 16, as: UInt32.self)
        return Float(UInt32(nib) | ((hb >> planeBit(k)) & 1) << 4)
    }
    static func store(_ row: UnsafeMutableRawPointer, _ o: Int, oc: Int, _ code: Float) {
        let p = row + blockOffset(o), k = o & 31, q = UInt32(code) & 31
        let old = p.load(fromByteOffset: k & 15, as: UInt8.self)
        let shift: UInt8 = k < 16 ? 0 : 4
        p.storeBytes(of: (old & ~(15 << shift)) | (UInt8(q & 15) << shift), toByteOffset: k & 15, as: UInt8.self)
        var hb = p.loadUnaligned(fromByteOffset: 16, as: UInt32.self)
        hb = (hb & ~(1 << planeBit(k))) | ((q >> 4) << planeBit(k))
        p.storeBytes(of: hb, toByteOffset: 16, as: UInt32.self)
    }
}

/// 6-bit codes in 24-byte blocks of 32 columns: 16 bytes of low nibbles as U5Codec, then the bit planes of bit 4
/// and of bit 5 (see `planeBit`).
enum U6Codec: RowCodec {
    static func rowBytes(_ oc: Int) -> Int { (oc + 31) / 32 * 24 }
    @inline(__always) static func blockOffset(_ o: Int) -> Int { (o >> 5) * 24 }
    @inline(__always) static func load32(_ row: UnsafeRawPointer, _ o: Int) -> (SIMD16<Float>, SIMD16<Float>) {
        let p = row + blockOffset(o)
        var pair = (SIMD16<Float>(), SIMD16<Float>())
        withUnsafeMutableBytes(of: &pair) { actsparse_load_planes(p, 2, $0.baseAddress!.assumingMemoryBound(to: Float.self)) }
        return pair
    }
    @inline(__always) static func value(_ row: UnsafeRawPointer, _ o: Int, oc: Int) -> Float {
        let p = row + blockOffset(o), k = o & 31
        let byte = p.load(fromByteOffset: k & 15, as: UInt8.self)
        let nib = k < 16 ? byte & 15 : byte >> 4
        let h4 = p.loadUnaligned(fromByteOffset: 16, as: UInt32.self), h5 = p.loadUnaligned(fromByteOffset: 20, as: UInt32.self)
        let b4: UInt32 = (h4 >> planeBit(k)) & 1, b5: UInt32 = (h5 >> planeBit(k)) & 1
        return Float(UInt32(nib) | b4 << 4 | b5 << 5)
    }
    static func store(_ row: UnsafeMutableRawPointer, _ o: Int, oc: Int, _ code: Float) {
        let p = row + blockOffset(o), k = o & 31, q = UInt32(code) & 63
        let old = p.load(fromByteOffset: k & 15, as: UInt8.self)
        let shift: UInt8 = k < 16 ? 0 : 4
        p.storeBytes(of: (old & ~(15 << shift)) | (UInt8(q & 15) << shift), toByteOffset: k & 15, as: UInt8.self)
        for (bit, off) in [(4, 16), (5, 20)] {
            var h = p.loadUnaligned(fromByteOffset: off, as: UInt32.self)
            h = (h & ~(1 << planeBit(k))) | (((q >> UInt32(bit)) & 1) << planeBit(k))
            p.storeBytes(of: h, toByteOffset: off, as: UInt32.self)
        }
    }
}
