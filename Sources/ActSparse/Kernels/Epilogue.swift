/// How a group's partial sums a = Σ x·code become outputs: y = a (float formats), y += s·(a − z·Σx) (symmetric
/// and zero-point formats), y += s·a + m·Σx (formats with a min); k-quants form s = D·sc (and m = −Dmin·mn) from
/// the super-block's f16 D and the group's integer sub-scales on the fly.
/// One flat kind and plain pointers per group, resolved once here: the per-16-column calls in the kernels' inner
/// loop stay a predictable branch and direct loads (an enum with payloads there cost 2.4× on int4 decode).
/// Vector and scalar forms do the same operations in the same order, so every lane equals the scalar tail.
/// The values equal `GroupScales` (the scalar reference's view of the same scales).
struct Epilogue {
    enum Kind { case copy, perOC, perOCZero, group, groupMin, superGroup, superGroupMin }
    let kind: Kind
    let s32: UnsafePointer<Float>?, z32: UnsafePointer<Float>?
    /// group: d (and m) f16 rows; super: D (and Dmin) f16 rows of the super-block
    let d16: UnsafePointer<Float16>?, m16: UnsafePointer<Float16>?
    /// super: the group's sub-scale (u8, or i8 for Q6_K) and sub-min rows
    let sc: UnsafeRawPointer?, mn: UnsafePointer<UInt8>?
    let signedSub: Bool
    let sx: Float
    /// z·Σx for a constant z; the constant z
    let zs: Float, offset: Float

    init(_ w: PlainWeights, group: Int, sx: Float) {
        self.sx = sx
        let t = w.format.traits, oc = w.oc
        zs = t.codeOffset * sx
        offset = t.codeOffset
        var s32: UnsafePointer<Float>? = nil, z32: UnsafePointer<Float>? = nil
        var d16: UnsafePointer<Float16>? = nil, m16: UnsafePointer<Float16>? = nil
        var sc: UnsafeRawPointer? = nil, mn: UnsafePointer<UInt8>? = nil
        var signed = false
        switch t.scales {
        case .none: kind = .copy
        case .perOC(let zero):
            kind = zero ? .perOCZero : .perOC
            s32 = UnsafePointer(w.scales!.pointer(as: Float.self))
            if zero { z32 = UnsafePointer(w.offsets!.pointer(as: Float.self)) }
        case .group(let min):
            kind = min ? .groupMin : .group
            d16 = UnsafePointer(w.scales!.pointer(as: Float16.self) + group * oc)
            if min { m16 = UnsafePointer(w.offsets!.pointer(as: Float16.self) + group * oc) }
        case .superGroup(let min, let s):
            kind = min ? .superGroupMin : .superGroup
            signed = s
            let su = (group * w.format.group / t.superBlock) * oc
            d16 = UnsafePointer(w.superScales!.pointer(as: Float16.self) + su)
            sc = UnsafeRawPointer(w.scales!.raw + group * oc)
            if min {
                m16 = UnsafePointer(w.superMins!.pointer(as: Float16.self) + su)
                mn = UnsafePointer(w.offsets!.pointer(as: UInt8.self) + group * oc)
            }
        }
        self.s32 = s32; self.z32 = z32; self.d16 = d16; self.m16 = m16; self.sc = sc; self.mn = mn
        signedSub = signed
    }

    /// D·sc for columns o..<o+16 (k-quants).
    @inline(__always) func superScale16(_ o: Int) -> SIMD16<Float> {
        let s = signedSub ? widen((sc! + o).loadUnaligned(as: SIMD16<Int8>.self))
                          : widen((sc! + o).loadUnaligned(as: SIMD16<UInt8>.self))
        return loadHalf16(d16!, o) * s
    }

    @inline(__always) func finish(_ y: UnsafeMutablePointer<Float>, _ o: Int, _ a: SIMD16<Float>) {
        let p = UnsafeMutableRawPointer(y + o)
        let t: SIMD16<Float>
        switch kind {
        case .copy: p.storeBytes(of: a, as: SIMD16<Float>.self); return
        case .perOC: t = UnsafeRawPointer(s32! + o).loadUnaligned(as: SIMD16<Float>.self) * (a - SIMD16(repeating: zs))
        case .perOCZero:
            t = UnsafeRawPointer(s32! + o).loadUnaligned(as: SIMD16<Float>.self) *
                (a - UnsafeRawPointer(z32! + o).loadUnaligned(as: SIMD16<Float>.self) * SIMD16(repeating: sx))
        case .group: t = loadHalf16(d16!, o) * (a - SIMD16(repeating: zs))
        case .groupMin:
            let v = p.loadUnaligned(as: SIMD16<Float>.self) + loadHalf16(d16!, o) * a
            p.storeBytes(of: v + loadHalf16(m16!, o) * SIMD16(repeating: sx), as: SIMD16<Float>.self)
            return
        case .superGroup: t = superScale16(o) * (a - SIMD16(repeating: zs))
        case .superGroupMin:
            let m = -(loadHalf16(m16!, o) * widen(UnsafeRawPointer(mn! + o).loadUnaligned(as: SIMD16<UInt8>.self)))
            let v = p.loadUnaligned(as: SIMD16<Float>.self) + superScale16(o) * a
            p.storeBytes(of: v + m * SIMD16(repeating: sx), as: SIMD16<Float>.self)
            return
        }
        p.storeBytes(of: p.loadUnaligned(as: SIMD16<Float>.self) + t, as: SIMD16<Float>.self)
    }

    @inline(__always) func finish(_ y: UnsafeMutablePointer<Float>, _ o: Int, _ a: Float) {
        switch kind {
        case .copy: y[o] = a
        case .perOC: y[o] = y[o] + s32![o] * (a - zs)
        case .perOCZero: y[o] = y[o] + s32![o] * (a - z32![o] * sx)
        case .group: y[o] = y[o] + Float(d16![o]) * (a - zs)
        case .groupMin: y[o] = y[o] + Float(d16![o]) * a + Float(m16![o]) * sx
        case .superGroup: y[o] = y[o] + Float(d16![o]) * subScale(o) * (a - zs)
        case .superGroupMin:
            y[o] = y[o] + Float(d16![o]) * subScale(o) * a + -(Float(m16![o]) * Float(mn![o])) * sx
        }
    }

    /// Weights of 16 codes q in columns o..<o+16 (prefill panels): the scalar reference's formula per lane.
    @inline(__always) func weights16(_ q: SIMD16<Float>, _ o: Int) -> SIMD16<Float> {
        switch kind {
        case .copy: return q
        case .perOC: return UnsafeRawPointer(s32! + o).loadUnaligned(as: SIMD16<Float>.self) * (q - SIMD16(repeating: offset))
        case .perOCZero:
            return UnsafeRawPointer(s32! + o).loadUnaligned(as: SIMD16<Float>.self) *
                (q - UnsafeRawPointer(z32! + o).loadUnaligned(as: SIMD16<Float>.self))
        case .group: return loadHalf16(d16!, o) * (q - SIMD16(repeating: offset))
        case .groupMin: return loadHalf16(d16!, o) * q + loadHalf16(m16!, o)
        case .superGroup: return superScale16(o) * (q - SIMD16(repeating: offset))
        case .superGroupMin:
            return superScale16(o) * q + -(loadHalf16(m16!, o) * widen(UnsafeRawPointer(mn! + o).loadUnaligned(as: SIMD16<UInt8>.self)))
        }
    }

    @inline(__always) func subScale(_ o: Int) -> Float {
        signedSub ? Float(sc!.load(fromByteOffset: o, as: Int8.self)) : Float(sc!.load(fromByteOffset: o, as: UInt8.self))
    }
}
