// MARK: - Sparse GEMV (decode, M = 1)
// y = Σ over kept i of x[i]·W[i, :]. Quantized formats accumulate raw codes per scale group into `partial`
// and apply the group's scale once: y += d·(partial − z·Σx) or y += d·partial + m·Σx.
// Every output element is one sequential chain of fused multiply-adds in ascending row order, so dropping a
// row whose x is exactly 0 leaves the result bit-identical (sparse at t = 0 ≡ dense), whatever the chunking.

extension SparseFC {
    /// y[OC] = sparse GEMV of the kept channels in `a`.
    public func decode(_ a: SparseActivation, into y: UnsafeMutablePointer<Float>) throws {
        guard a.width == ic else {
            throw ActSparseError.shape(what: "decode activation for [\(ic), \(oc)] weight",
                                       expected: "\(ic) channels", found: "\(a.width)")
        }
        decodeUnchecked(a, into: y)
    }

    func decodeUnchecked(_ a: SparseActivation, into y: UnsafeMutablePointer<Float>) {
        let job = DecodeJob(fc: self, idx: a.indices, val: a.values, count: a.count, y: y)
        Parallel.run(decodeChunks.count) { worker in
            var j = job
            j.range = self.decodeChunks[worker]
            weights.format.kind.visit(j)
        }
    }
}

struct DecodeJob: CodecVisitor {
    let fc: SparseFC
    let idx: UnsafeMutablePointer<Int32>
    let val: UnsafeMutablePointer<Float>
    let count: Int
    let y: UnsafeMutablePointer<Float>
    var range: Range<Int> = 0..<0

    func visit<C: RowCodec>(_ codec: C.Type) {
        let w = fc.weights
        let lo = range.lowerBound, hi = range.upperBound
        (y + lo).update(repeating: 0, count: hi - lo)
        if w.format.scaling == .none {
            accumulateRows(C.self, w, from: 0, to: count, into: y)
            return
        }
        let acc = fc.partial.pointer(as: Float.self)
        let g = w.groupSize
        var k = 0
        while k < count {
            let group = Int(idx[k]) / g
            let end = (group + 1) * g
            var k1 = k
            var sx: Float = 0
            while k1 < count && Int(idx[k1]) < end { sx += val[k1]; k1 += 1 }
            (acc + lo).update(repeating: 0, count: hi - lo)
            accumulateRows(C.self, w, from: k, to: k1, into: acc)
            applyScales(w, group: group, sx: sx, acc: acc)
            k = k1
        }
    }

    /// dst[range] += Σ_{k0 ≤ k < k1} val[k] · code(row idx[k]), four rows per pass over dst
    /// (one row per pass lets dst fall out of L1: 15 vs 23–25 GB/s measured here).
    @inline(__always)
    func accumulateRows<C: RowCodec>(_: C.Type, _ w: PlainWeights, from k0: Int, to k1: Int,
                                     into dst: UnsafeMutablePointer<Float>) {
        let lo = range.lowerBound, hi = range.upperBound, oc = w.oc
        let vecEnd = lo + (hi - lo) / 32 * 32
        var k = k0
        while k + 4 <= k1 {
            let r0 = w.row(Int(idx[k])), r1 = w.row(Int(idx[k + 1]))
            let r2 = w.row(Int(idx[k + 2])), r3 = w.row(Int(idx[k + 3]))
            let s0 = val[k], s1 = val[k + 1], s2 = val[k + 2], s3 = val[k + 3]
            let x0 = SIMD16<Float>(repeating: s0), x1 = SIMD16<Float>(repeating: s1)
            let x2 = SIMD16<Float>(repeating: s2), x3 = SIMD16<Float>(repeating: s3)
            var o = lo
            while o < vecEnd {
                let p = UnsafeMutableRawPointer(dst + o)
                var a = p.loadUnaligned(as: SIMD16<Float>.self)
                var b = p.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)
                var (u, v) = C.load32(r0, o)
                a = a.addingProduct(u, x0); b = b.addingProduct(v, x0)
                (u, v) = C.load32(r1, o)
                a = a.addingProduct(u, x1); b = b.addingProduct(v, x1)
                (u, v) = C.load32(r2, o)
                a = a.addingProduct(u, x2); b = b.addingProduct(v, x2)
                (u, v) = C.load32(r3, o)
                a = a.addingProduct(u, x3); b = b.addingProduct(v, x3)
                p.storeBytes(of: a, as: SIMD16<Float>.self)
                p.storeBytes(of: b, toByteOffset: 64, as: SIMD16<Float>.self)
                o += 32
            }
            while o < hi {
                var a = dst[o]
                a = a.addingProduct(C.value(r0, o, oc: oc), s0)
                a = a.addingProduct(C.value(r1, o, oc: oc), s1)
                a = a.addingProduct(C.value(r2, o, oc: oc), s2)
                a = a.addingProduct(C.value(r3, o, oc: oc), s3)
                dst[o] = a
                o += 1
            }
            k += 4
        }
        while k < k1 {
            let r0 = w.row(Int(idx[k]))
            let s0 = val[k]
            let x0 = SIMD16<Float>(repeating: s0)
            var o = lo
            while o < vecEnd {
                let p = UnsafeMutableRawPointer(dst + o)
                let (u, v) = C.load32(r0, o)
                p.storeBytes(of: p.loadUnaligned(as: SIMD16<Float>.self).addingProduct(u, x0), as: SIMD16<Float>.self)
                p.storeBytes(of: p.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self).addingProduct(v, x0),
                             toByteOffset: 64, as: SIMD16<Float>.self)
                o += 32
            }
            while o < hi {
                dst[o] = dst[o].addingProduct(C.value(r0, o, oc: oc), s0)
                o += 1
            }
            k += 1
        }
    }

    /// y[range] += scale(group) applied to acc[range].
    @inline(__always)
    func applyScales(_ w: PlainWeights, group: Int, sx: Float, acc: UnsafeMutablePointer<Float>) {
        let lo = range.lowerBound, hi = range.upperBound, oc = w.oc
        let u = group * oc
        switch w.format.kind {
        case .f32, .f16, .bf16:
            break
        case .int8sym:
            scaleOffset(ScaleF32(w.scales!.pointer(as: Float.self)), zConst: 0, z: nil, sx: sx, acc: acc)
        case .int8asym:
            scaleOffset(ScaleF32(w.scales!.pointer(as: Float.self)), zConst: 0,
                        z: w.offsets!.pointer(as: Float.self), sx: sx, acc: acc)
        case .int8group, .int4sym:
            scaleOffset(ScaleF16(w.scales!.pointer(as: Float16.self) + u), zConst: w.format.kind.codeOffset,
                        z: nil, sx: sx, acc: acc)
        case .int4asym:
            let d = ScaleF16(w.scales!.pointer(as: Float16.self) + u)
            let m = ScaleF16(w.offsets!.pointer(as: Float16.self) + u)
            let sxv = SIMD16<Float>(repeating: sx)
            var o = lo
            while o + 16 <= hi {
                let yo = UnsafeMutableRawPointer(y + o)
                let t = yo.loadUnaligned(as: SIMD16<Float>.self) + d.load16(o) * acc.load16(o)
                yo.storeBytes(of: t + m.load16(o) * sxv, as: SIMD16<Float>.self)
                o += 16
            }
            while o < hi { y[o] = y[o] + d[o] * acc[o] + m[o] * sx; o += 1 }
        }
    }

    /// y += d·(acc − z·sx), z per OC (pointer) or constant.
    @inline(__always)
    func scaleOffset<S: ScaleRow>(_ d: S, zConst: Float, z: UnsafeMutablePointer<Float>?, sx: Float,
                                  acc: UnsafeMutablePointer<Float>) {
        let lo = range.lowerBound, hi = range.upperBound
        let sxv = SIMD16<Float>(repeating: sx)
        var o = lo
        if let z {
            while o + 16 <= hi {
                let yo = UnsafeMutableRawPointer(y + o)
                let t = d.load16(o) * (acc.load16(o) - z.load16(o) * sxv)
                yo.storeBytes(of: yo.loadUnaligned(as: SIMD16<Float>.self) + t, as: SIMD16<Float>.self)
                o += 16
            }
            while o < hi { y[o] = y[o] + d[o] * (acc[o] - z[o] * sx); o += 1 }
        } else {
            let zs = zConst * sx
            let zv = SIMD16<Float>(repeating: zs)
            while o + 16 <= hi {
                let yo = UnsafeMutableRawPointer(y + o)
                let t = d.load16(o) * (acc.load16(o) - zv)
                yo.storeBytes(of: yo.loadUnaligned(as: SIMD16<Float>.self) + t, as: SIMD16<Float>.self)
                o += 16
            }
            while o < hi { y[o] = y[o] + d[o] * (acc[o] - zs); o += 1 }
        }
    }
}

// MARK: - Scale rows (f32 per-OC, f16 per-group)

protocol ScaleRow {
    func load16(_ o: Int) -> SIMD16<Float>
    subscript(_ o: Int) -> Float { get }
}

struct ScaleF32: ScaleRow {
    let p: UnsafeMutablePointer<Float>
    init(_ p: UnsafeMutablePointer<Float>) { self.p = p }
    @inline(__always) func load16(_ o: Int) -> SIMD16<Float> { (p + o).load16(0) }
    @inline(__always) subscript(_ o: Int) -> Float { p[o] }
}

struct ScaleF16: ScaleRow {
    let p: UnsafeMutablePointer<Float16>
    init(_ p: UnsafeMutablePointer<Float16>) { self.p = p }
    @inline(__always) func load16(_ o: Int) -> SIMD16<Float> {
        widen(UnsafeRawPointer(p + o).loadUnaligned(as: SIMD16<Float16>.self))
    }
    @inline(__always) subscript(_ o: Int) -> Float { Float(p[o]) }
}

extension UnsafeMutablePointer where Pointee == Float {
    @inline(__always) func load16(_ o: Int) -> SIMD16<Float> {
        UnsafeRawPointer(self + o).loadUnaligned(as: SIMD16<Float>.self)
    }
}
