/// One FC's weights in the decode layout: plain [IC, OC], OC contiguous, so every kept input channel is one
/// contiguous row streamed at full bandwidth. Quantized formats keep their codes; kernels dequantize on the fly.
public final class PlainWeights: @unchecked Sendable {
    public let format: WeightFormat
    public let ic: Int
    public let oc: Int
    /// Bytes between consecutive rows of `codes`.
    public let rowStride: Int
    /// [IC, rowStride] codes, row i = input channel i, OC contiguous (int4: two per byte, see U4Codec).
    let codes: AlignedBuffer
    /// perOC: [OC] f32 scale · perGroup: [IC/G, OC] f16 scale d · none: nil
    let scales: AlignedBuffer?
    /// int8asym: [OC] f32 zero point · int4asym: [IC/G, OC] f16 min m · otherwise nil
    let offsets: AlignedBuffer?

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

    /// Bytes of codes and scales held (what a dense GEMV reads).
    public var bytes: Int { format.denseBytes(ic: ic, oc: oc) }

    init(format: WeightFormat, ic: Int, oc: Int) throws {
        guard ic > 0 else { throw ActSparseError.shape(what: "weight IC", expected: "> 0", found: "\(ic)") }
        guard oc > 0 else { throw ActSparseError.shape(what: "weight OC", expected: "> 0", found: "\(oc)") }
        if format.scaling == .perGroup, ic % format.group != 0 {
            throw ActSparseError.shape(what: "weight IC for \(format)",
                                       expected: "a multiple of the group \(format.group)", found: "\(ic)")
        }
        self.format = format
        self.ic = ic
        self.oc = oc
        rowStride = format.rowBytes(oc)
        codes = try AlignedBuffer(bytes: ic * rowStride)
        let units = format.scaling == .perGroup ? ic / format.group : 1
        switch format.kind {
        case .f32, .f16, .bf16:
            scales = nil; offsets = nil
        case .int8sym:
            scales = try AlignedBuffer(bytes: oc * 4); offsets = nil
        case .int8asym:
            scales = try AlignedBuffer(bytes: oc * 4); offsets = try AlignedBuffer(bytes: oc * 4)
        case .int8group, .int4sym:
            scales = try AlignedBuffer(bytes: units * oc * 2); offsets = nil
        case .int4asym:
            scales = try AlignedBuffer(bytes: units * oc * 2); offsets = try AlignedBuffer(bytes: units * oc * 2)
        }
    }

    @inline(__always) func row(_ i: Int) -> UnsafeRawPointer { UnsafeRawPointer(codes.raw + i * rowStride) }
}

// MARK: - Reference dequantization (scalar; the kernels' twin)

extension PlainWeights {
    /// The real weight W[i, o], computed the plain way.
    public func weight(_ i: Int, _ o: Int) -> Float {
        let q = format.kind.codec.value(row(i), o, oc: oc)
        switch format.kind {
        case .f32, .f16, .bf16:
            return q
        case .int8sym:
            return scales!.pointer(as: Float.self)[o] * q
        case .int8asym:
            return scales!.pointer(as: Float.self)[o] * (q - offsets!.pointer(as: Float.self)[o])
        case .int8group, .int4sym:
            let d = Float(scales!.pointer(as: Float16.self)[(i / format.group) * oc + o])
            return d * (q - format.kind.codeOffset)
        case .int4asym:
            let u = (i / format.group) * oc + o
            return Float(scales!.pointer(as: Float16.self)[u]) * q + Float(offsets!.pointer(as: Float16.self)[u])
        }
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
        let codec = format.kind.codec
        func put(_ i: Int, _ o: Int, _ code: Float) { codec.store(p.codes.raw + i * p.rowStride, o, oc: oc, code) }
        func clampRound(_ v: Float, _ lo: Float, _ hi: Float) -> Float { min(hi, max(lo, v.rounded())) }

        switch format.kind {
        case .f32, .f16, .bf16:
            for i in 0..<ic { for o in 0..<oc { put(i, o, w[i * ld + o]) } }
        case .int8sym:
            let s = p.scales!.pointer(as: Float.self)
            let range = columnRange ?? ColumnRange(w, rows: ic, oc: oc, ldw: ld)
            for o in 0..<oc {
                let amax = max(abs(range.lo[o]), abs(range.hi[o]))
                s[o] = amax / 127
                let inv: Float = amax > 0 ? 127 / amax : 0
                for i in 0..<ic { put(i, o, clampRound(w[i * ld + o] * inv, -127, 127)) }
            }
        case .int8asym:
            let s = p.scales!.pointer(as: Float.self), z = p.offsets!.pointer(as: Float.self)
            let range = columnRange ?? ColumnRange(w, rows: ic, oc: oc, ldw: ld)
            for o in 0..<oc {
                let lo = min(range.lo[o], 0), hi = max(range.hi[o], 0)  // keep 0 exactly representable
                let scale = (hi - lo) / 255
                s[o] = scale > 0 ? scale : 1
                z[o] = clampRound(-lo / s[o], 0, 255)
                for i in 0..<ic { put(i, o, clampRound(w[i * ld + o] / s[o] + z[o], 0, 255)) }
            }
        case .int8group, .int4sym, .int4asym:
            let g = format.group
            let d = p.scales!.pointer(as: Float16.self)
            let m = p.offsets?.pointer(as: Float16.self)
            let offset = format.kind.codeOffset
            for gi in 0..<(ic / g) {
                for o in 0..<oc {
                    var lo = Float.infinity, hi = -Float.infinity, amax: Float = 0
                    for i in gi * g..<(gi + 1) * g {
                        let v = w[i * ld + o]
                        lo = min(lo, v); hi = max(hi, v); amax = max(amax, abs(v))
                    }
                    let u = gi * oc + o
                    switch format.kind {
                    case .int8group, .int4sym:
                        let qmax: Float = format.kind == .int8group ? 127 : 7
                        d[u] = Float16(amax / qmax)
                        let ds = Float(d[u])
                        let inv: Float = ds > 0 ? 1 / ds : 0
                        for i in gi * g..<(gi + 1) * g {
                            put(i, o, clampRound(w[i * ld + o] * inv, -qmax - (offset > 0 ? 1 : 0), qmax) + offset)
                        }
                    default:
                        d[u] = Float16((hi - lo) / 15)
                        m![u] = Float16(lo)
                        let ds = Float(d[u]), ms = Float(m![u])
                        let inv: Float = ds > 0 ? 1 / ds : 0
                        for i in gi * g..<(gi + 1) * g { put(i, o, clampRound((w[i * ld + o] - ms) * inv, 0, 15)) }
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
        return p
    }

    /// Bytes a sparse GEMV over these kept rows reads: their codes plus the scales of every group it touches.
    public func bytesRead(kept indices: UnsafePointer<Int32>, count: Int) -> Int {
        var bytes = count * rowStride
        switch format.scaling {
        case .none: break
        case .perOC: bytes += count > 0 ? oc * format.scaleBytesPerUnit : 0
        case .perGroup:
            var groups = 0, last = -1
            for k in 0..<count where Int(indices[k]) / format.group != last {
                last = Int(indices[k]) / format.group
                groups += 1
            }
            bytes += groups * oc * format.scaleBytesPerUnit
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
