/// How a group's partial sums a = Σ x·code become outputs: y = a (float formats), y += s·(a − z·Σx) (symmetric
/// and zero-point formats), y += s·a + m·Σx (formats with a min). The scales come from `GroupScales`.
/// Vector and scalar forms do the same operations in the same order, so every lane equals the scalar tail.
struct Epilogue {
    enum Kind { case copy, offset, zeroPerOC, min }
    let kind: Kind
    let g: GroupScales
    let sx: Float
    /// z·Σx for a constant z
    let zs: Float

    init(_ w: PlainWeights, group: Int, sx: Float) {
        self.sx = sx
        g = GroupScales(w, group: group)
        zs = g.offset * sx
        if case .none = g.scale { kind = .copy } else if g.hasMin { kind = .min }
        else { kind = g.zero != nil ? .zeroPerOC : .offset }
    }

    @inline(__always) func finish(_ y: UnsafeMutablePointer<Float>, _ o: Int, _ a: SIMD16<Float>) {
        let p = UnsafeMutableRawPointer(y + o)
        let t: SIMD16<Float>
        switch kind {
        case .copy: p.storeBytes(of: a, as: SIMD16<Float>.self); return
        case .offset: t = g.scale16(o) * (a - SIMD16(repeating: zs))
        case .zeroPerOC: t = g.scale16(o) * (a - g.zero16(o) * SIMD16(repeating: sx))
        case .min:
            let v = p.loadUnaligned(as: SIMD16<Float>.self) + g.scale16(o) * a
            p.storeBytes(of: v + g.min16(o) * SIMD16(repeating: sx), as: SIMD16<Float>.self)
            return
        }
        p.storeBytes(of: p.loadUnaligned(as: SIMD16<Float>.self) + t, as: SIMD16<Float>.self)
    }

    @inline(__always) func finish(_ y: UnsafeMutablePointer<Float>, _ o: Int, _ a: Float) {
        switch kind {
        case .copy: y[o] = a
        case .offset: y[o] = y[o] + GroupScales.load1(g.scale, o) * (a - zs)
        case .zeroPerOC: y[o] = y[o] + GroupScales.load1(g.scale, o) * (a - g.zero![o] * sx)
        case .min: y[o] = y[o] + GroupScales.load1(g.scale, o) * a + GroupScales.load1(g.min, o) * sx
        }
    }
}
