// Writing ggml blocks: a plain quantizer (tests' tiny files) and random blocks with bounded scales (`synth`).
// Layouts are the inverse of `GGMLType.unpack`.

extension GGMLType {
    /// `values` (a multiple of the block size) as blocks of this type: round-to-nearest on a min/max grid.
    /// Not llama.cpp's error-minimising search — a correct file with the type's exact layout.
    public func encode(_ values: [Float]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(values.count / blockSize * blockBytes)
        func f16(_ x: Float) -> [UInt8] { withUnsafeBytes(of: Float16(x).bitPattern.littleEndian, Array.init) }
        func le32(_ x: UInt32) -> [UInt8] { withUnsafeBytes(of: x.littleEndian, Array.init) }
        /// round(x·inv) clamped to lo…hi, plus `offset` (so that signed grids land on 0…255 codes).
        func q(_ x: Float, _ inv: Float, _ lo: Float, _ hi: Float, offset: Float = 0) -> UInt8 {
            UInt8(min(hi, max(lo, (x * inv).rounded())) + offset)
        }
        switch self {
        case .f32: for x in values { out += le32(x.bitPattern) }
        case .f16: for x in values { out += f16(x) }
        case .bf16: for x in values { out += withUnsafeBytes(of: bf16Bits(x).littleEndian, Array.init) }
        default:
            for b in stride(from: 0, to: values.count, by: blockSize) {
                let v = Array(values[b..<(b + blockSize)])
                switch self {
                case .q8_0:
                    // The value of largest magnitude lands on the table's −127 end (as llama.cpp's quantizer does):
                    // the table reaches only 113 on the positive side.
                    let big = v.max { abs($0) < abs($1) }!
                    let d = Float(Float16(big / -127)), inv: Float = d != 0 ? 1 / d : 0
                    out += f16(d)
                    for x in v { out.append(UInt8(bitPattern: Int8(min(127, max(-127, (x * inv).rounded()))))) }
                case .q4_0, .q5_0:
                    let z: Float = self == .q4_0 ? 8 : 16
                    let d = Float(Float16(v.map(abs).max()! / (z - 1))), inv: Float = d > 0 ? 1 / d : 0
                    let codes = v.map { q($0, inv, -z, z - 1, offset: z) }
                    out += f16(d)
                    if self == .q5_0 { out += le32(highBits(codes)) }
                    for j in 0..<16 { out.append((codes[j] & 15) | (codes[j + 16] & 15) << 4) }
                case .q4_1, .q5_1:
                    let qmax: Float = self == .q4_1 ? 15 : 31
                    let lo = v.min()!, d = Float(Float16((v.max()! - lo) / qmax)), m = Float(Float16(lo))
                    let inv: Float = d > 0 ? 1 / d : 0
                    let codes = v.map { q($0 - m, inv, 0, qmax) }
                    out += f16(d) + f16(m)
                    if self == .q5_1 { out += le32(highBits(codes)) }
                    for j in 0..<16 { out.append((codes[j] & 15) | (codes[j + 16] & 15) << 4) }
                case .q4_K, .q5_K:
                    let qmax: Float = self == .q4_K ? 15 : 31
                    var hi = [Float](repeating: 0, count: 8), wantMin = hi
                    for j in 0..<8 {
                        let s = v[(32 * j)..<(32 * j + 32)]
                        hi[j] = s.max()!; wantMin[j] = -min(0, s.min()!)
                    }
                    // mins first (rounded away from 0), then scales wide enough for what the stored min left
                    let Dm = Float(Float16(wantMin.max()! / 63))
                    let mn = wantMin.map { Dm > 0 ? UInt8(min(63, ($0 / Dm).rounded(.up))) : 0 }
                    let want = (0..<8).map { (hi[$0] + Dm * Float(mn[$0])) / qmax }
                    let D = Float(Float16(want.max()! / 63))
                    let sc = want.map { D > 0 ? UInt8(min(63, ($0 / D).rounded(.up))) : 0 }
                    var codes = [UInt8](repeating: 0, count: 256)
                    for i in 0..<256 {
                        let s = D * Float(sc[i / 32]), m = Dm * Float(mn[i / 32])
                        codes[i] = q(v[i] + m, s > 0 ? 1 / s : 0, 0, qmax)
                    }
                    out += f16(D) + f16(Dm) + packKScales(sc, mn)
                    if self == .q5_K {
                        for j in 0..<32 {
                            var h: UInt8 = 0
                            for c in 0..<4 {
                                h |= ((codes[64 * c + j] >> 4) & 1) << UInt8(2 * c)
                                h |= ((codes[64 * c + 32 + j] >> 4) & 1) << UInt8(2 * c + 1)
                            }
                            out.append(h)
                        }
                    }
                    for c in 0..<4 { for j in 0..<32 { out.append((codes[64 * c + j] & 15) | (codes[64 * c + 32 + j] & 15) << 4) } }
                case .q6_K:
                    var want = [Float](repeating: 0, count: 16)
                    for j in 0..<16 { want[j] = v[(16 * j)..<(16 * j + 16)].map(abs).max()! / 31 }
                    let D = Float(Float16(want.max()! / 127))
                    let sc = want.map { D > 0 ? Int8(min(127, ($0 / D).rounded(.up))) : 0 }
                    var codes = [UInt8](repeating: 0, count: 256)
                    for i in 0..<256 {
                        let s = D * Float(sc[i / 16])
                        codes[i] = q(v[i], s > 0 ? 1 / s : 0, -32, 31, offset: 32)
                    }
                    out += q6Layout(codes) + sc.map { UInt8(bitPattern: $0) } + f16(D)
                case .q3_K:
                    // 16 groups of 16, q − 4 ∈ −4…3, signed 6-bit sub-scales (stored + 32).
                    var want = [Float](repeating: 0, count: 16)
                    for j in 0..<16 { want[j] = v[(16 * j)..<(16 * j + 16)].map(abs).max()! / 4 }
                    let D = Float(Float16(want.max()! / 31))
                    let sc = want.map { D > 0 ? Int8(min(31, ($0 / D).rounded(.up))) : 0 }
                    var hmask = [UInt8](repeating: 0, count: 32), qs = [UInt8](repeating: 0, count: 64)
                    for i in 0..<256 {
                        let s = D * Float(sc[i / 16])
                        let q = q(v[i], s > 0 ? 1 / s : 0, -4, 3, offset: 4)  // 0…7
                        let h = i / 128, sh = (i % 128) / 32, j = i % 32
                        qs[32 * h + j] |= (q & 3) << UInt8(2 * sh)
                        hmask[j] |= (q >> 2) << UInt8(4 * h + sh)
                    }
                    var packed = [UInt8](repeating: 0, count: 12)
                    for k in 0..<16 {
                        let u = UInt8(bitPattern: sc[k]) &+ 32  // 0…63
                        packed[k % 8] |= (u & 15) << (k < 8 ? 0 : 4)
                        packed[8 + k % 4] |= (u >> 4) << UInt8(2 * (k / 4))
                    }
                    out += hmask + qs + packed + f16(D)
                case .iq4_nl:
                    let table = GGMLType.iq4nlTable.map(Float.init)
                    // The value of largest magnitude lands on the table's −127 end (as llama.cpp's quantizer does):
                    // the table reaches only 113 on the positive side.
                    let big = v.max { abs($0) < abs($1) }!
                    let d = Float(Float16(big / -127)), inv: Float = d != 0 ? 1 / d : 0
                    let idx = v.map { x in UInt8(table.indices.min { abs(table[$0] - x * inv) < abs(table[$1] - x * inv) }!) }
                    out += f16(d)
                    for j in 0..<16 { out.append(idx[j] | idx[j + 16] << 4) }
                default: break
                }
            }
        }
        return out
    }

    /// `count` blocks of random codes and sub-scales whose weights have a standard deviation of about `std` and
    /// a mean of about 0 (full-size synthetic models: activations stay finite through dozens of layers).
    public func randomBlocks(count: Int, std: Float, rng: inout SplitMix, into out: UnsafeMutableRawPointer) {
        let bb = blockBytes, sqrt12 = Float(12).squareRoot()
        // Random bytes everywhere, then the scale fields set: codes uniform on the grid, so w = d·(q − mid)
        // has std d·(levels / √12).
        var k = 0
        let total = count * bb
        while k + 8 <= total { out.storeBytes(of: rng.next(), toByteOffset: k, as: UInt64.self); k += 8 }
        while k < total { out.storeBytes(of: UInt8(truncatingIfNeeded: rng.next()), toByteOffset: k, as: UInt8.self); k += 1 }
        func put16(_ p: UnsafeMutableRawPointer, _ off: Int, _ x: Float) { p.storeBytes(of: Float16(x), toByteOffset: off, as: Float16.self) }
        for b in 0..<count {
            let p = out + b * bb
            switch self {
            case .f32: p.storeBytes(of: rng.gaussian() * std, as: Float.self)
            case .f16: put16(p, 0, rng.gaussian() * std)
            case .bf16: p.storeBytes(of: bf16Bits(rng.gaussian() * std), as: UInt16.self)
            case .q8_0: put16(p, 0, std / (255 / sqrt12))
            case .q4_0: put16(p, 0, std / (16 / sqrt12))
            case .q5_0: put16(p, 0, std / (32 / sqrt12))
            case .q4_1, .q5_1:
                let levels: Float = self == .q4_1 ? 16 : 32
                let d = std / (levels / sqrt12)
                put16(p, 0, d); put16(p, 2, -d * (levels - 1) / 2)
            case .q4_K, .q5_K:
                // sc = mn = 32 in every group; Dmin = D·(levels − 1)/2 centres the codes: w = 32·D·(q − mid).
                let levels: Float = self == .q4_K ? 16 : 32
                let D = std / (levels / sqrt12) / 32
                put16(p, 0, D); put16(p, 2, D * (levels - 1) / 2)
                for (i, byte) in packKScales([UInt8](repeating: 32, count: 8), [UInt8](repeating: 32, count: 8)).enumerated() {
                    p.storeBytes(of: byte, toByteOffset: 4 + i, as: UInt8.self)
                }
            case .q6_K:
                let D = std / (64 / sqrt12) / 32
                for g in 0..<16 { p.storeBytes(of: 32, toByteOffset: 192 + g, as: UInt8.self) }
                put16(p, 208, D)
            case .q3_K:
                // every sub-scale 63 (31 after the − 32): w = 31·D·(q − 4)
                for k in 0..<12 { p.storeBytes(of: 0xFF, toByteOffset: 96 + k, as: UInt8.self) }
                put16(p, 108, std / (8 / sqrt12) / 31)
            case .iq4_nl:
                put16(p, 0, std / 70)  // the table's values have a standard deviation of about 70
            }
        }
    }
}

/// Bit 4 of 32 codes as a word (Q5_0/Q5_1's qh): bit j = code j's bit 4.
private func highBits(_ codes: [UInt8]) -> UInt32 {
    var h: UInt32 = 0
    for j in 0..<32 { h |= UInt32((codes[j] >> 4) & 1) << UInt32(j) }
    return h
}

/// Q4_K/Q5_K's 12 bytes of 6-bit sub-scales and sub-mins (the inverse of the unpacking in `GGMLType.unpack`).
private func packKScales(_ sc: [UInt8], _ mn: [UInt8]) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: 12)
    for j in 0..<4 {
        out[j] = (sc[j] & 63) | ((sc[j + 4] >> 4) << 6)
        out[j + 4] = (mn[j] & 63) | ((mn[j + 4] >> 4) << 6)
        out[j + 8] = (sc[j + 4] & 15) | ((mn[j + 4] & 15) << 4)
    }
    return out
}

/// Q6_K's ql[128] and qh[64] for 256 codes 0…63.
private func q6Layout(_ q: [UInt8]) -> [UInt8] {
    var ql = [UInt8](repeating: 0, count: 128), qh = [UInt8](repeating: 0, count: 64)
    for h in 0..<2 {
        for j in 0..<64 { ql[64 * h + j] = (q[128 * h + j] & 15) | (q[128 * h + 64 + j] & 15) << 4 }
        for j in 0..<32 {
            var v: UInt8 = 0
            for s in 0..<4 { v |= ((q[128 * h + 32 * s + j] >> 4) & 3) << UInt8(2 * s) }
            qh[32 * h + j] = v
        }
    }
    return ql + qh
}
