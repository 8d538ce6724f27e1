/// How a group's partial sums a = Σ x·code become outputs: y = a (float formats), y += s·(a − z·Σx) (per-OC),
/// y += d·(a − z·Σx) (per-group symmetric; z = 8 for int4), y += d·a + m·Σx (per-group with min).
/// Vector and scalar forms do the same operations in the same order, so every lane equals the scalar tail.
struct Epilogue {
    enum Kind { case copy, perOC, perOCZero, group, groupMin }
    let kind: Kind
    let s32: UnsafeMutablePointer<Float>?
    let z32: UnsafeMutablePointer<Float>?
    let d16: UnsafeMutablePointer<Float16>?
    let m16: UnsafeMutablePointer<Float16>?
    let sx: Float
    let zs: Float

    init(_ w: PlainWeights, group: Int, sx: Float) {
        self.sx = sx
        zs = w.format.kind.codeOffset * sx
        let u = group * w.oc
        switch w.format.kind {
        case .f32, .f16, .bf16:
            kind = .copy; s32 = nil; z32 = nil; d16 = nil; m16 = nil
        case .int8sym:
            kind = .perOC; s32 = w.scales!.pointer(as: Float.self); z32 = nil; d16 = nil; m16 = nil
        case .int8asym:
            kind = .perOCZero; s32 = w.scales!.pointer(as: Float.self); z32 = w.offsets!.pointer(as: Float.self)
            d16 = nil; m16 = nil
        case .int8group, .int4sym:
            kind = .group; s32 = nil; z32 = nil; d16 = w.scales!.pointer(as: Float16.self) + u; m16 = nil
        case .int4asym:
            kind = .groupMin; s32 = nil; z32 = nil
            d16 = w.scales!.pointer(as: Float16.self) + u; m16 = w.offsets!.pointer(as: Float16.self) + u
        }
    }

    @inline(__always) func finish(_ y: UnsafeMutablePointer<Float>, _ o: Int, _ a: SIMD16<Float>) {
        let p = UnsafeMutableRawPointer(y + o)
        let t: SIMD16<Float>
        switch kind {
        case .copy: p.storeBytes(of: a, as: SIMD16<Float>.self); return
        case .perOC: t = s32!.load16(o) * (a - SIMD16(repeating: zs))
        case .perOCZero: t = s32!.load16(o) * (a - z32!.load16(o) * SIMD16(repeating: sx))
        case .group: t = loadHalf16(d16!, o) * (a - SIMD16(repeating: zs))
        case .groupMin:
            let v = p.loadUnaligned(as: SIMD16<Float>.self) + loadHalf16(d16!, o) * a
            p.storeBytes(of: v + loadHalf16(m16!, o) * SIMD16(repeating: sx), as: SIMD16<Float>.self)
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
        }
    }
}
