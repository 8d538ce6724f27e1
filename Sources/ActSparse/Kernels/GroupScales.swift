/// The scale parameters of one scale unit (a group of G input channels, or all of IC for per-OC formats) of a
/// `PlainWeights`, read per output channel the plain way: w = s·(q − z), or w = s·q + m for formats with a min.
/// The scalar reference (`PlainWeights.weight`) and the quantizer read scales through this; the kernels' twin is
/// `Epilogue` (flat per-group pointers), which the kernel tests check against this.
struct GroupScales {
    /// Where s (or m) comes from.
    enum Source {
        case none
        /// [OC] f32 (per-OC formats)
        case f32(UnsafePointer<Float>)
        /// [OC] f16 row of this group
        case f16(UnsafePointer<Float16>)
        /// k-quants: D[o]·sc[o] with the super-block's f16 D row and the group's integer sub-scale row
        case superU8(UnsafePointer<Float16>, UnsafePointer<UInt8>)
        case superI8(UnsafePointer<Float16>, UnsafePointer<Int8>)
        /// k-quant mins: −(Dmin[o]·mn[o]), so that w = s·q + m equals the file's (D·sc)·q − Dmin·mn exactly
        case superMinU8(UnsafePointer<Float16>, UnsafePointer<UInt8>)
    }
    let scale: Source
    let min: Source
    /// [OC] f32 zero points (int8asym), else nil: z is then the constant `offset`
    let zero: UnsafePointer<Float>?
    let offset: Float

    init(_ w: PlainWeights, group: Int) {
        let t = w.format.traits, oc = w.oc
        offset = t.codeOffset
        switch t.scales {
        case .none:
            scale = .none; min = .none; zero = nil
        case .perOC(let z):
            scale = .f32(UnsafePointer(w.scales!.pointer(as: Float.self)))
            min = .none
            zero = z ? UnsafePointer(w.offsets!.pointer(as: Float.self)) : nil
        case .group(let m):
            let u = group * oc
            scale = .f16(UnsafePointer(w.scales!.pointer(as: Float16.self) + u))
            min = m ? .f16(UnsafePointer(w.offsets!.pointer(as: Float16.self) + u)) : .none
            zero = nil
        case .superGroup(let m, let signed):
            let u = group * oc, su = (group * w.format.group / t.superBlock) * oc
            let d = UnsafePointer(w.superScales!.pointer(as: Float16.self) + su)
            scale = signed ? .superI8(d, UnsafePointer(w.scales!.pointer(as: Int8.self) + u))
                           : .superU8(d, UnsafePointer(w.scales!.pointer(as: UInt8.self) + u))
            min = m ? .superMinU8(UnsafePointer(w.superMins!.pointer(as: Float16.self) + su),
                                  UnsafePointer(w.offsets!.pointer(as: UInt8.self) + u)) : .none
            zero = nil
        }
    }

    @inline(__always) static func load1(_ s: Source, _ o: Int) -> Float {
        switch s {
        case .none: return 1
        case .f32(let p): return p[o]
        case .f16(let p): return Float(p[o])
        case .superU8(let d, let sc): return Float(d[o]) * Float(sc[o])
        case .superI8(let d, let sc): return Float(d[o]) * Float(sc[o])
        case .superMinU8(let d, let mn): return -(Float(d[o]) * Float(mn[o]))
        }
    }

    var hasMin: Bool { if case .none = min { return false } else { return true } }

    /// The weight of code q in column o, computed the file's way (the scalar reference).
    @inline(__always) func weight(_ q: Float, _ o: Int) -> Float {
        switch scale {
        case .none: return q
        default:
            let s = GroupScales.load1(scale, o)
            if hasMin { return s * q + GroupScales.load1(min, o) }
            return s * (q - (zero?[o] ?? offset))
        }
    }
}
