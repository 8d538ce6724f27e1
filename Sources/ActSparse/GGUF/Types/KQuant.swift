import CActSparse

// ggml's k-quants: super-blocks of 256 elements with f16 D (and Dmin) and integer sub-scales per 16 or 32.
// The engine keeps the structure (D·sc is exact in f32, not in f16), so every value loads bit for bit.

/// Q4_K and Q5_K: d, dmin (f16), 12 bytes of 6-bit sub-scales and sub-mins, [Q5_K: 32 bytes of fifth bits],
/// 128 bytes of nibbles: chunk c of 64 elements = 32 bytes, low nibbles elements 64c + j, high 64c + 32 + j;
/// w = (D·sc)·q − Dmin·mn per group of 32.
protocol KQuant45Row: GGMLTypeRow {
    /// 4 (Q4_K) or 5 (Q5_K) bits per code.
    static var bits: Int { get }
}

extension KQuant45Row {
    static func unpack(_ b: UnsafeRawPointer, codes: UnsafeMutablePointer<UInt8>, scale: UnsafeMutablePointer<UInt16>,
                       minimum: UnsafeMutablePointer<UInt16>) -> (Float16, Float16) {
        KQuant.unpack45(b, fifth: bits == 5, codes)
        return KQuant.scales45(b, scale, minimum)
    }
    static func unpackFast(_ b: UnsafeRawPointer, codes: UnsafeMutablePointer<UInt8>,
                           scale: UnsafeMutablePointer<UInt16>, minimum: UnsafeMutablePointer<UInt16>) -> (Float16, Float16) {
        actsparse_unpack_k45(b.assumingMemoryBound(to: UInt8.self), bits == 5 ? 1 : 0, codes)
        return KQuant.scales45(b, scale, minimum)
    }
    static func checkFinite(_ b: UnsafeRawPointer) -> Bool { Legacy.finiteScaleAndMin(b) }
    static func encode(_ v: ArraySlice<Float>, into out: inout [UInt8]) { KQuant.encode45(v, bits: bits, into: &out) }
    static func randomize(_ p: UnsafeMutableRawPointer, std: Float, rng: inout SplitMix) {
        KQuant.randomize45(p, std: std, levels: Float(1 << bits))
    }
}

enum Q4_KRow: KQuant45Row {
    static let traits = GGMLType.Traits(name: "Q4_K", blockSize: 256, blockBytes: 144, engine: .q4k)
    static let bits = 4
}

enum Q5_KRow: KQuant45Row {
    static let traits = GGMLType.Traits(name: "Q5_K", blockSize: 256, blockBytes: 176, engine: .q5k)
    static let bits = 5
}

/// Q6_K: ql[128], qh[64], 16 int8 sub-scales, d: half h of 128 elements: ql[64h + j] low nibble → element
/// 128h + j, high → 128h + 64 + j; qh[32h + j] bits 2s…2s+1 → element 128h + 32s + j's bits 4–5;
/// w = (D·sc)·(q − 32) per group of 16.
enum Q6_KRow: GGMLTypeRow {
    static let traits = GGMLType.Traits(name: "Q6_K", blockSize: 256, blockBytes: 210, engine: .q6k)
    static func unpack(_ b: UnsafeRawPointer, codes: UnsafeMutablePointer<UInt8>, scale: UnsafeMutablePointer<UInt16>,
                       minimum: UnsafeMutablePointer<UInt16>) -> (Float16, Float16) {
        for h in 0..<2 {
            for j in 0..<64 {
                let v = b.load(fromByteOffset: 64 * h + j, as: UInt8.self)
                codes[128 * h + j] = v & 15; codes[128 * h + 64 + j] = v >> 4
            }
            for j in 0..<32 {
                let v = b.load(fromByteOffset: 128 + 32 * h + j, as: UInt8.self)
                for s in 0..<4 { codes[128 * h + 32 * s + j] |= ((v >> UInt8(2 * s)) & 3) << 4 }
            }
        }
        return scales(b, scale)
    }
    static func unpackFast(_ b: UnsafeRawPointer, codes: UnsafeMutablePointer<UInt8>,
                           scale: UnsafeMutablePointer<UInt16>, minimum: UnsafeMutablePointer<UInt16>) -> (Float16, Float16) {
        actsparse_unpack_q6k(b.assumingMemoryBound(to: UInt8.self), codes)
        return scales(b, scale)
    }
    static func scales(_ b: UnsafeRawPointer, _ scale: UnsafeMutablePointer<UInt16>) -> (Float16, Float16) {
        for g in 0..<16 { scale[g] = UInt16(b.load(fromByteOffset: 192 + g, as: UInt8.self)) }
        return (b.loadUnaligned(fromByteOffset: 208, as: Float16.self), 0)
    }
    static func checkFinite(_ b: UnsafeRawPointer) -> Bool { b.loadUnaligned(fromByteOffset: 208, as: Float16.self).isFinite }
    static func encode(_ v: ArraySlice<Float>, into out: inout [UInt8]) {
        let v = Array(v)
        var want = [Float](repeating: 0, count: 16)
        for j in 0..<16 { want[j] = v[(16 * j)..<(16 * j + 16)].map(abs).max()! / 31 }
        let D = Float(Float16(want.max()! / 127))
        let sc = want.map { D > 0 ? Int8(min(127, ($0 / D).rounded(.up))) : 0 }
        var q = [UInt8](repeating: 0, count: 256)
        for i in 0..<256 {
            let s = D * Float(sc[i / 16])
            q[i] = BlockBytes.code(v[i], s > 0 ? 1 / s : 0, -32, 31, offset: 32)
        }
        var ql = [UInt8](repeating: 0, count: 128), qh = [UInt8](repeating: 0, count: 64)
        for h in 0..<2 {
            for j in 0..<64 { ql[64 * h + j] = (q[128 * h + j] & 15) | (q[128 * h + 64 + j] & 15) << 4 }
            for j in 0..<32 {
                var x: UInt8 = 0
                for s in 0..<4 { x |= ((q[128 * h + 32 * s + j] >> 4) & 3) << UInt8(2 * s) }
                qh[32 * h + j] = x
            }
        }
        out += ql + qh + sc.map { UInt8(bitPattern: $0) } + BlockBytes.f16(D)
    }
    static func randomize(_ p: UnsafeMutableRawPointer, std: Float, rng: inout SplitMix) {
        for g in 0..<16 { p.storeBytes(of: 32, toByteOffset: 192 + g, as: UInt8.self) }
        BlockBytes.put16(p, 208, std / (64 / BlockBytes.sqrt12) / 32)
    }
}

/// Q3_K: hmask[32], qs[64], 12 bytes of 6-bit sub-scales, d; w = d·(sc − 32)·(q − 4) per group of 16, q ∈ 0…7.
/// Loaded exactly as Q6_K (no 3-bit kernel yet): code q + 28 (so code − 32 = q − 4), sub-scale sc − 32 signed.
enum Q3_KRow: GGMLTypeRow {
    static let traits = GGMLType.Traits(name: "Q3_K", blockSize: 256, blockBytes: 110, engine: .q6k)
    /// Half h of 128 elements, shift s: element 128h + 32s + j has its low two bits in qs[32h + j] bits 2s…2s+1
    /// and its third bit in hmask[j] bit 4h + s.
    static func unpack(_ b: UnsafeRawPointer, codes: UnsafeMutablePointer<UInt8>, scale: UnsafeMutablePointer<UInt16>,
                       minimum: UnsafeMutablePointer<UInt16>) -> (Float16, Float16) {
        for h in 0..<2 {
            for s in 0..<4 {
                for j in 0..<32 {
                    let low = (b.load(fromByteOffset: 32 + 32 * h + j, as: UInt8.self) >> UInt8(2 * s)) & 3
                    let high = (b.load(fromByteOffset: j, as: UInt8.self) >> UInt8(4 * h + s)) & 1
                    codes[128 * h + 32 * s + j] = (low | high << 2) + 28
                }
            }
        }
        return scales(b, scale)
    }
    static func unpackFast(_ b: UnsafeRawPointer, codes: UnsafeMutablePointer<UInt8>,
                           scale: UnsafeMutablePointer<UInt16>, minimum: UnsafeMutablePointer<UInt16>) -> (Float16, Float16) {
        actsparse_unpack_q3k(b.assumingMemoryBound(to: UInt8.self), codes)
        return scales(b, scale)
    }
    /// 16 six-bit sub-scales at byte 96: low nibbles in bytes 0–7 (k < 8 low, k ≥ 8 high nibble of byte k − 8),
    /// two high bits each in bytes 8–11 (byte 8 + k % 4, bits 2(k / 4)…); stored minus 32 as a signed byte.
    static func scales(_ b: UnsafeRawPointer, _ scale: UnsafeMutablePointer<UInt16>) -> (Float16, Float16) {
        let s = b + 96
        for k in 0..<16 {
            let low = k < 8 ? s.load(fromByteOffset: k, as: UInt8.self) & 15 : s.load(fromByteOffset: k - 8, as: UInt8.self) >> 4
            let high = (s.load(fromByteOffset: 8 + k % 4, as: UInt8.self) >> UInt8(2 * (k / 4))) & 3
            scale[k] = UInt16(UInt8(bitPattern: Int8(low | high << 4) - 32))
        }
        return (b.loadUnaligned(fromByteOffset: 108, as: Float16.self), 0)
    }
    static func checkFinite(_ b: UnsafeRawPointer) -> Bool { b.loadUnaligned(fromByteOffset: 108, as: Float16.self).isFinite }
    static func encode(_ v: ArraySlice<Float>, into out: inout [UInt8]) {
        let v = Array(v)
        var want = [Float](repeating: 0, count: 16)
        for j in 0..<16 { want[j] = v[(16 * j)..<(16 * j + 16)].map(abs).max()! / 4 }
        let D = Float(Float16(want.max()! / 31))
        let sc = want.map { D > 0 ? Int8(min(31, ($0 / D).rounded(.up))) : 0 }
        var hmask = [UInt8](repeating: 0, count: 32), qs = [UInt8](repeating: 0, count: 64)
        for i in 0..<256 {
            let s = D * Float(sc[i / 16])
            let q = BlockBytes.code(v[i], s > 0 ? 1 / s : 0, -4, 3, offset: 4)  // 0…7
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
        out += hmask + qs + packed + BlockBytes.f16(D)
    }
    static func randomize(_ p: UnsafeMutableRawPointer, std: Float, rng: inout SplitMix) {
        // every sub-scale 63 (31 after the − 32): w = 31·D·(q − 4)
        for k in 0..<12 { p.storeBytes(of: 0xFF, toByteOffset: 96 + k, as: UInt8.self) }
        BlockBytes.put16(p, 108, std / (8 / BlockBytes.sqrt12) / 31)
    }
}

/// What Q4_K and Q5_K share.
enum KQuant {
    static func unpack45(_ b: UnsafeRawPointer, fifth: Bool, _ codes: UnsafeMutablePointer<UInt8>) {
        let qh = b + 16, qs = b + (fifth ? 48 : 16)
        for c in 0..<4 {
            for j in 0..<32 {
                let v = qs.load(fromByteOffset: 32 * c + j, as: UInt8.self)
                var lo = v & 15, hi = v >> 4
                if fifth {
                    let h = qh.load(fromByteOffset: j, as: UInt8.self)
                    lo |= ((h >> UInt8(2 * c)) & 1) << 4
                    hi |= ((h >> UInt8(2 * c + 1)) & 1) << 4
                }
                codes[64 * c + j] = lo; codes[64 * c + 32 + j] = hi
            }
        }
    }

    /// 12 bytes of 6-bit sub-scales and sub-mins after d and dmin.
    static func scales45(_ b: UnsafeRawPointer, _ scale: UnsafeMutablePointer<UInt16>,
                         _ minimum: UnsafeMutablePointer<UInt16>) -> (Float16, Float16) {
        let s = b + 4
        for j in 0..<4 {
            let dj = s.load(fromByteOffset: j, as: UInt8.self), mj = s.load(fromByteOffset: 4 + j, as: UInt8.self)
            let mdj = s.load(fromByteOffset: 8 + j, as: UInt8.self)
            scale[j] = UInt16(dj & 63); minimum[j] = UInt16(mj & 63)
            scale[j + 4] = UInt16((mdj & 15) | ((dj >> 2) & 0x30))
            minimum[j + 4] = UInt16((mdj >> 4) | ((mj >> 2) & 0x30))
        }
        return (b.loadUnaligned(as: Float16.self), b.loadUnaligned(fromByteOffset: 2, as: Float16.self))
    }

    /// The inverse of `scales45`'s unpacking.
    static func packScales45(_ sc: [UInt8], _ mn: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 12)
        for j in 0..<4 {
            out[j] = (sc[j] & 63) | ((sc[j + 4] >> 4) << 6)
            out[j + 4] = (mn[j] & 63) | ((mn[j + 4] >> 4) << 6)
            out[j + 8] = (sc[j + 4] & 15) | ((mn[j + 4] & 15) << 4)
        }
        return out
    }

    static func encode45(_ v: ArraySlice<Float>, bits: Int, into out: inout [UInt8]) {
        let v = Array(v)
        let qmax = Float((1 << bits) - 1)
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
            codes[i] = BlockBytes.code(v[i] + m, s > 0 ? 1 / s : 0, 0, qmax)
        }
        out += BlockBytes.f16(D) + BlockBytes.f16(Dm) + packScales45(sc, mn)
        if bits == 5 {
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
    }

    /// sc = mn = 32 in every group; Dmin = D·(levels − 1)/2 centres the codes: w = 32·D·(q − mid).
    static func randomize45(_ p: UnsafeMutableRawPointer, std: Float, levels: Float) {
        let D = std / (levels / BlockBytes.sqrt12) / 32
        BlockBytes.put16(p, 0, D)
        BlockBytes.put16(p, 2, D * (levels - 1) / 2)
        for (i, byte) in packScales45([UInt8](repeating: 32, count: 8), [UInt8](repeating: 32, count: 8)).enumerated() {
            p.storeBytes(of: byte, toByteOffset: 4 + i, as: UInt8.self)
        }
    }
}
