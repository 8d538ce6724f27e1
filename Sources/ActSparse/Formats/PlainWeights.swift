/// One FC's weights in the decode layout: plain [IC, OC], OC contiguous, so every kept input channel is one
/// contiguous row streamed at full bandwidth. Quantized formats keep their codes; kernels dequantize on the fly.
public final class PlainWeights: @unchecked Sendable {
    public let format: WeightFormat
    public let ic: Int
    public let oc: Int
    /// Bytes between consecutive rows of `codes`.
    public let rowStride: Int
    /// [IC, rowStride] codes, row i = input channel i, OC contiguous (int4/5/6: see U4Codec, U5Codec, U6Codec).
    let codes: AlignedBuffer
    /// perOC: [OC] f32 scale s · group: [IC/G, OC] f16 scale d · superGroup: [IC/G, OC] u8 (Q6_K: i8) sub-scale sc
    /// · none: nil
    let scales: AlignedBuffer?
    /// int8asym: [OC] f32 zero point · group with min: [IC/G, OC] f16 min m · superGroup with min: [IC/G, OC] u8
    /// sub-min mn · otherwise nil
    let offsets: AlignedBuffer?
    /// superGroup: [IC/S, OC] f16 super-block scale D, and with min f16 Dmin (S = 256); otherwise nil
    let superScales: AlignedBuffer?, superMins: AlignedBuffer?

    /// Scale units along IC: IC/G groups for grouped formats, 1 for per-OC formats.
    public var groupCount: Int {
        switch format.scaling {
        case .none: return 0
        case .perOC: return 1
        case .perGroup: return ic / format.group
        }
    }
    /// Input channels per scale unit (IC for per-OC and float formats).
    public var groupSize: Int { format.scaling == .perGroup ? format.group : ic }
    /// Input channels a slice of these weights must align to (a group, or a k-quant super-block).
    public var rowAlignment: Int { max(1, format.group, format.traits.superBlock) }

    /// Bytes of codes and scales held (what a dense GEMV reads).
    public var bytes: Int { format.denseBytes(ic: ic, oc: oc) }

    init(format: WeightFormat, ic: Int, oc: Int) throws {
        guard ic > 0 else { throw ActSparseError.shape(what: "weight IC", expected: "> 0", found: "\(ic)") }
        guard oc > 0 else { throw ActSparseError.shape(what: "weight OC", expected: "> 0", found: "\(oc)") }
        let t = format.traits
        let align = max(1, format.group, t.superBlock)
        if t.isGrouped, ic % align != 0 {
            throw ActSparseError.shape(what: "weight IC for \(format)",
                                       expected: "a multiple of \(t.superBlock > 0 ? "the super-block" : "the group") \(align)",
                                       found: "\(ic)")
        }
        self.format = format
        self.ic = ic
        self.oc = oc
        rowStride = format.rowBytes(oc)
        codes = try AlignedBuffer(bytes: ic * rowStride)
        let units = t.isGrouped ? ic / format.group : 1
        let half = t.unitBytes / (t.hasMin || t.scales == .perOC(zero: true) ? 2 : 1)  // scaleElementBytes
        scales = t.unitBytes > 0 ? try AlignedBuffer(bytes: units * oc * half) : nil
        offsets = t.unitBytes > half ? try AlignedBuffer(bytes: units * oc * half) : nil
        let supers = t.superBlock > 0 ? ic / t.superBlock : 0
        superScales = supers > 0 ? try AlignedBuffer(bytes: supers * oc * 2) : nil
        superMins = supers > 0 && t.hasMin ? try AlignedBuffer(bytes: supers * oc * 2) : nil
    }

    @inline(__always) func row(_ i: Int) -> UnsafeRawPointer { UnsafeRawPointer(codes.raw + i * rowStride) }

    /// Bytes of one scale (or min) element of `scales`: 4 (per-OC), 2 (f16 group), 1 (k-quant sub-scale).
    var scaleElementBytes: Int {
        let t = format.traits
        return t.unitBytes / (t.hasMin || t.scales == .perOC(zero: true) ? 2 : 1)
    }

    /// Start of group g's row of scales and of mins (grouped formats; prefetch hints).
    func scaleRows(group g: Int) -> (UnsafeRawPointer?, UnsafeRawPointer?) {
        let off = g * oc * scaleElementBytes
        return (scales.map { UnsafeRawPointer($0.raw + off) }, offsets.map { UnsafeRawPointer($0.raw + off) })
    }
}

// MARK: - Reference dequantization (scalar; the kernels' twin)

extension PlainWeights {
    /// The real weight W[i, o], computed the plain way (for GGUF types: exactly the file's value).
    public func weight(_ i: Int, _ o: Int) -> Float {
        let q = format.traits.codec.type.value(row(i), o, oc: oc)
        return GroupScales(self, group: format.scaling == .perGroup ? i / format.group : 0).weight(q, o)
    }

    /// The whole weight as f32 [IC, OC] (tests and references only: the engine never expands weights).
    public func dequantized() -> [Float] {
        var out = [Float](repeating: 0, count: ic * oc)
        for i in 0..<ic { for o in 0..<oc { out[i * oc + o] = weight(i, o) } }
        return out
    }
}

// MARK: - Quantization from f32

extension PlainWeights {
    /// Quantizes `w` ([IC, OC] row-major f32, leading dimension `ldw` ≥ OC) into `format`.
    /// Per-OC and per-group parameters depend only on their own column, so an OC slice quantizes identically
    /// to the same columns of the whole weight.
    /// `columnRange` overrides the per-OC statistics (min, max per column) of per-OC formats: a rank holding
    /// only some rows of a weight (down sliced by IC) passes the whole columns' range so that its codes and
    /// scales equal those of the whole weight.
    public static func quantize(_ w: UnsafePointer<Float>, ic: Int, oc: Int, ldw: Int? = nil,
                                format: WeightFormat, columnRange: ColumnRange? = nil) throws -> PlainWeights {
        let ld = ldw ?? oc
        try ActSparseError.require(ld >= oc, "weight leading dimension", expected: ">= OC \(oc)", found: "\(ld)")
        let p = try PlainWeights(format: format, ic: ic, oc: oc)
        for i in 0..<ic {
            for o in 0..<oc where !w[i * ld + o].isFinite {
                throw ActSparseError.invalidValue(what: "weight W[\(i), \(o)]", expected: "a finite value",
                                                  found: "\(w[i * ld + o])")
            }
        }
        if let columnRange, columnRange.lo.count != oc {
            throw ActSparseError.shape(what: "column range", expected: "\(oc) columns", found: "\(columnRange.lo.count)")
        }
        let codec = format.traits.codec.type, t = format.traits
        func put(_ i: Int, _ o: Int, _ code: Float) { codec.store(p.codes.raw + i * p.rowStride, o, oc: oc, code) }
        func clampRound(_ v: Float, _ lo: Float, _ hi: Float) -> Float { min(hi, max(lo, v.rounded())) }

        switch t.scales {
        case .none:
            for i in 0..<ic { for o in 0..<oc { put(i, o, w[i * ld + o]) } }
        case .perOC(zero: false):
            let s = p.scales!.pointer(as: Float.self)
            let range = columnRange ?? ColumnRange(w, rows: ic, oc: oc, ldw: ld)
            for o in 0..<oc {
                let amax = max(abs(range.lo[o]), abs(range.hi[o]))
                s[o] = amax / 127
                let inv: Float = amax > 0 ? 127 / amax : 0
                for i in 0..<ic { put(i, o, clampRound(w[i * ld + o] * inv, -127, 127)) }
            }
        case .perOC(zero: true):
            let s = p.scales!.pointer(as: Float.self), z = p.offsets!.pointer(as: Float.self)
            let range = columnRange ?? ColumnRange(w, rows: ic, oc: oc, ldw: ld)
            for o in 0..<oc {
                let lo = min(range.lo[o], 0), hi = max(range.hi[o], 0)  // keep 0 exactly representable
                let scale = (hi - lo) / 255
                s[o] = scale > 0 ? scale : 1
                z[o] = clampRound(-lo / s[o], 0, 255)
                for i in 0..<ic { put(i, o, clampRound(w[i * ld + o] / s[o] + z[o], 0, 255)) }
            }
        case .group, .superGroup:
            let g = format.group, qmax = t.maxCode, signed = t.codec == .i8
            // Per (group, OC): the real scale (and min) the group wants; super-block formats then store them as
            // D·sc (and Dmin·mn) with 6-bit (Q6_K: 8-bit) sub-scales.
            var want = [Float](repeating: 0, count: ic / g * oc), wantMin = want
            for gi in 0..<(ic / g) {
                for o in 0..<oc {
                    var lo = Float.infinity, hi = -Float.infinity, amax: Float = 0
                    for i in gi * g..<(gi + 1) * g {
                        let v = w[i * ld + o]
                        lo = min(lo, v); hi = max(hi, v); amax = max(amax, abs(v))
                    }
                    if t.hasMin {
                        lo = min(lo, 0)  // k-quant mins are subtracted: keep m ≤ 0
                        want[gi * oc + o] = (hi - lo) / qmax; wantMin[gi * oc + o] = lo
                    } else {
                        // symmetric: ±127 (int8), ±(z − 1) around the offset z (int4: d = amax/7, Q6_K: amax/31)
                        let half = signed ? qmax : t.codeOffset - 1
                        want[gi * oc + o] = amax / half
                    }
                }
            }
            switch t.scales {
            case .group(let hasMin):
                let d = p.scales!.pointer(as: Float16.self), m = p.offsets?.pointer(as: Float16.self)
                for u in 0..<want.count {
                    d[u] = Float16(want[u])
                    if hasMin { m![u] = Float16(wantMin[u]) }
                }
            case .superGroup(let hasMin, let signedScales):
                let S = t.superBlock, per = S / g, scMax: Float = signedScales ? 127 : 63
                let D = p.superScales!.pointer(as: Float16.self), Dm = p.superMins?.pointer(as: Float16.self)
                for sb in 0..<(ic / S) {
                    for o in 0..<oc {
                        // Mins first (rounded away from 0), then scales wide enough for what the stored min left.
                        var mmax: Float = 0
                        for j in 0..<per { mmax = max(mmax, -wantMin[(sb * per + j) * oc + o]) }
                        if hasMin { Dm![sb * oc + o] = Float16(mmax / 63) }
                        let dm = hasMin ? Float(Dm![sb * oc + o]) : 0, invm: Float = dm > 0 ? 1 / dm : 0
                        var smax: Float = 0
                        for j in 0..<per {
                            let u = (sb * per + j) * oc + o
                            if hasMin {
                                let mn = min(63, (-wantMin[u] * invm).rounded(.up))
                                p.offsets!.pointer(as: UInt8.self)[u] = UInt8(mn)
                                let hi = want[u] * qmax + wantMin[u]
                                want[u] = (hi + dm * mn) / qmax
                            }
                            smax = max(smax, want[u])
                        }
                        D[sb * oc + o] = Float16(smax / scMax)
                        let dd = Float(D[sb * oc + o]), inv: Float = dd > 0 ? 1 / dd : 0
                        for j in 0..<per {
                            let u = (sb * per + j) * oc + o
                            let sc = min(scMax, (want[u] * inv).rounded(.up))  // up: the group's range still fits
                            if signedScales { p.scales!.pointer(as: Int8.self)[u] = Int8(sc) }
                            else { p.scales!.pointer(as: UInt8.self)[u] = UInt8(sc) }
                        }
                    }
                }
            default: break
            }
            // Codes against the stored (rounded) scales, so the grid the kernels see is the one quantized to.
            for gi in 0..<(ic / g) {
                let gs = GroupScales(p, group: gi)
                for o in 0..<oc {
                    let s = GroupScales.load1(gs.scale, o)
                    let inv: Float = s != 0 ? 1 / s : 0
                    let mn = gs.hasMin ? GroupScales.load1(gs.min, o) : 0
                    for i in gi * g..<(gi + 1) * g {
                        let v = w[i * ld + o]
                        let code = gs.hasMin ? clampRound((v - mn) * inv, 0, qmax)
                                             : signed ? clampRound(v * inv, -qmax, qmax)
                                                      : clampRound(v * inv + t.codeOffset, 0, qmax)
                        put(i, o, code)
                    }
                }
            }
        }
        return p
    }
}

// MARK: - Copies

extension PlainWeights {
    /// A deep copy in fresh memory (benchmarks cycle through copies larger than the last-level cache).
    public func copy() -> PlainWeights {
        let p = try! PlainWeights(format: format, ic: ic, oc: oc)
        p.codes.raw.copyMemory(from: codes.raw, byteCount: codes.count)
        if let s = scales { p.scales!.raw.copyMemory(from: s.raw, byteCount: s.count) }
        if let z = offsets { p.offsets!.raw.copyMemory(from: z.raw, byteCount: z.count) }
        if let d = superScales { p.superScales!.raw.copyMemory(from: d.raw, byteCount: d.count) }
        if let m = superMins { p.superMins!.raw.copyMemory(from: m.raw, byteCount: m.count) }
        return p
    }

    /// Bytes a sparse GEMV over these kept rows reads: their codes plus the scales of every group (and
    /// super-block) it touches.
    public func bytesRead(kept indices: UnsafePointer<Int32>, count: Int) -> Int {
        var bytes = count * rowStride
        let t = format.traits
        switch format.scaling {
        case .none: break
        case .perOC: bytes += count > 0 ? oc * t.unitBytes : 0
        case .perGroup:
            var groups = 0, supers = 0, last = -1, lastSuper = -1
            let S = max(1, t.superBlock)
            for k in 0..<count where Int(indices[k]) / format.group != last {
                last = Int(indices[k]) / format.group
                groups += 1
                if Int(indices[k]) / S != lastSuper { lastSuper = Int(indices[k]) / S; supers += 1 }
            }
            bytes += groups * oc * t.unitBytes + (t.superBlock > 0 ? supers * oc * t.superBytes : 0)
        }
        return bytes
    }
}

/// Per-column minimum and maximum of a weight, mergeable over row blocks (per-OC quantization statistics).
public struct ColumnRange: Sendable {
    public var lo: [Float]
    public var hi: [Float]

    public init(oc: Int) {
        lo = [Float](repeating: .infinity, count: oc)
        hi = [Float](repeating: -.infinity, count: oc)
    }

    /// The range of `rows` rows of w ([rows, OC], leading dimension ldw).
    public init(_ w: UnsafePointer<Float>, rows: Int, oc: Int, ldw: Int? = nil) {
        self.init(oc: oc)
        add(w, rows: rows, ldw: ldw ?? oc)
    }

    public mutating func add(_ w: UnsafePointer<Float>, rows: Int, ldw: Int? = nil) {
        let ld = ldw ?? lo.count
        for i in 0..<rows {
            for o in 0..<lo.count {
                lo[o] = min(lo[o], w[i * ld + o])
                hi[o] = max(hi[o], w[i * ld + o])
            }
        }
    }
}
