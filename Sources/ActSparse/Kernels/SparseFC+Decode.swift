import CActSparse

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
        if decodesInt8, let q8 { return decodeQ8(a, into: y, job: q8) }
        let job = DecodeJob(fc: self, idx: a.indices, val: a.values, count: a.count, y: y)
        Parallel.run(decodeChunks.count) { worker in
            var j = job
            j.range = self.decodeChunks[worker]
            weights.format.traits.codec.visit(j)
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
        // Float formats and per-OC scales: one "group" of every kept row; per-group formats: G rows each.
        let g = w.format.scaling == .perGroup ? w.format.group : Int.max
        var k = 0
        while k < count {
            let group = g == .max ? 0 : Int(idx[k]) / g
            var k1 = k
            var sx: Float = 0
            if g == .max {
                k1 = count
                for j in k..<count { sx += val[j] }
            } else {
                let end = (group + 1) * g
                while k1 < count && Int(idx[k1]) < end { sx += val[k1]; k1 += 1 }
            }
            let scale = Epilogue(w, group: group, sx: sx)
            // The next group's f16 scales (and mins), prefetched during this group's passes: with short rows a
            // group is over before the hardware prefetcher would have found them.
            var nextScales: (UnsafeRawPointer?, UnsafeRawPointer?) = (nil, nil)
            if g != .max && fc.prefetchRows && k1 < count {
                nextScales = w.scaleRows(group: Int(idx[k1]) / g)
            }
            var p = k
            while p < k1 {
                let q = min(p + fc.rowsPerPass, k1)
                pass(C.self, w, from: p, to: q, first: p == k, last: q == k1, scale, nextScales)
                p = q
            }
            k = k1
        }
    }

    /// One pass over this worker's columns with up to `fc.rowsPerPass` (4 or 8) rows: the first pass of a group starts from 0, middle passes carry partial sums in
    /// `fc.partial`, the last applies the group's scale straight into y. Several rows per pass keep several
    /// sequential streams and amortise the partial-sum traffic (docs/design.md, "Kernel tuning").
    /// Short rows (a few cache lines, too short for the hardware prefetcher) take 8 rows per pass and prefetch
    /// the next pass's rows as this one walks the same columns; long rows stream fine on their own.
    @inline(__always)
    func pass<C: RowCodec>(_: C.Type, _ w: PlainWeights, from k0: Int, to k1: Int, first: Bool, last: Bool,
                           _ e: Epilogue, _ nextScales: (UnsafeRawPointer?, UnsafeRawPointer?)) {
        typealias V = SIMD16<Float>
        let lo = range.lowerBound, hi = range.upperBound, oc = w.oc
        let vecEnd = lo + (hi - lo) / 32 * 32
        let acc = fc.partial.pointer(as: Float.self)
        let n = k1 - k0
        @inline(__always) func row(_ j: Int) -> UnsafeRawPointer { w.row(Int(idx[j < n ? k0 + j : k0])) }
        @inline(__always) func x(_ j: Int) -> Float { j < n ? val[k0 + j] : 0 }
        let r0 = row(0), r1 = row(1), r2 = row(2), r3 = row(3), r4 = row(4), r5 = row(5), r6 = row(6), r7 = row(7)
        let s0 = x(0), s1 = x(1), s2 = x(2), s3 = x(3), s4 = x(4), s5 = x(5), s6 = x(6), s7 = x(7)
        let x0 = V(repeating: s0), x1 = V(repeating: s1), x2 = V(repeating: s2), x3 = V(repeating: s3)
        let x4 = V(repeating: s4), x5 = V(repeating: s5), x6 = V(repeating: s6), x7 = V(repeating: s7)
        let nn = fc.prefetchRows ? min(fc.rowsPerPass, count - k1) : 0
        @inline(__always) func next(_ j: Int) -> UnsafeRawPointer { w.row(Int(idx[k1 + min(j, nn - 1)])) }
        let p0 = nn > 0 ? next(0) : r0, p1 = nn > 0 ? next(1) : r0, p2 = nn > 0 ? next(2) : r0
        let p3 = nn > 0 ? next(3) : r0, p4 = nn > 0 ? next(4) : r0, p5 = nn > 0 ? next(5) : r0
        let p6 = nn > 0 ? next(6) : r0, p7 = nn > 0 ? next(7) : r0
        let lineStep = max(64, C.blockOffset(32))
        var o = lo
        while o < vecEnd {
            let off = C.blockOffset(o)
            if nn > 0 && off & (lineStep - 1) < C.blockOffset(32) {
                let f = off + 64  // one line ahead of where the next pass will start reading
                actsparse_prefetch(p0 + f); actsparse_prefetch(p1 + f); actsparse_prefetch(p2 + f)
                actsparse_prefetch(p3 + f); actsparse_prefetch(p4 + f); actsparse_prefetch(p5 + f)
                actsparse_prefetch(p6 + f); actsparse_prefetch(p7 + f)
                if o == lo {
                    actsparse_prefetch(p0 + off); actsparse_prefetch(p1 + off); actsparse_prefetch(p2 + off)
                    actsparse_prefetch(p3 + off); actsparse_prefetch(p4 + off); actsparse_prefetch(p5 + off)
                    actsparse_prefetch(p6 + off); actsparse_prefetch(p7 + off)
                }
            }
            if let d = nextScales.0 {  // ≤ 64 bytes of scales per 32-column block
                actsparse_prefetch(d + fc.scaleElementBytes * o)
                if let m = nextScales.1 { actsparse_prefetch(m + fc.scaleElementBytes * o) }
            }
            let p = UnsafeMutableRawPointer(acc + o)
            var a = first ? V() : p.loadUnaligned(as: V.self)
            var b = first ? V() : p.loadUnaligned(fromByteOffset: 64, as: V.self)
            // Row 0 always; the others only if present (a group's last pass is often short: G = 32 at high
            // sparsity keeps one or two rows per group).
            var (u, v) = C.load32(r0, o)
            a = a.addingProduct(u, x0); b = b.addingProduct(v, x0)
            if n > 1 { (u, v) = C.load32(r1, o); a = a.addingProduct(u, x1); b = b.addingProduct(v, x1) }
            if n > 2 { (u, v) = C.load32(r2, o); a = a.addingProduct(u, x2); b = b.addingProduct(v, x2) }
            if n > 3 { (u, v) = C.load32(r3, o); a = a.addingProduct(u, x3); b = b.addingProduct(v, x3) }
            if n > 4 { (u, v) = C.load32(r4, o); a = a.addingProduct(u, x4); b = b.addingProduct(v, x4) }
            if n > 5 { (u, v) = C.load32(r5, o); a = a.addingProduct(u, x5); b = b.addingProduct(v, x5) }
            if n > 6 { (u, v) = C.load32(r6, o); a = a.addingProduct(u, x6); b = b.addingProduct(v, x6) }
            if n > 7 { (u, v) = C.load32(r7, o); a = a.addingProduct(u, x7); b = b.addingProduct(v, x7) }
            if last {
                e.finish(y, o, a)
                e.finish(y, o + 16, b)
            } else {
                p.storeBytes(of: a, as: V.self)
                p.storeBytes(of: b, toByteOffset: 64, as: V.self)
            }
            o += 32
        }
        while o < hi {
            var a: Float = first ? 0 : acc[o]
            a = a.addingProduct(C.value(r0, o, oc: oc), s0)
            if n > 1 { a = a.addingProduct(C.value(r1, o, oc: oc), s1) }
            if n > 2 { a = a.addingProduct(C.value(r2, o, oc: oc), s2) }
            if n > 3 { a = a.addingProduct(C.value(r3, o, oc: oc), s3) }
            if n > 4 { a = a.addingProduct(C.value(r4, o, oc: oc), s4) }
            if n > 5 { a = a.addingProduct(C.value(r5, o, oc: oc), s5) }
            if n > 6 { a = a.addingProduct(C.value(r6, o, oc: oc), s6) }
            if n > 7 { a = a.addingProduct(C.value(r7, o, oc: oc), s7) }
            if last { e.finish(y, o, a) } else { acc[o] = a }
            o += 1
        }
    }
}

extension UnsafeMutablePointer where Pointee == Float {
    @inline(__always) func load16(_ o: Int) -> SIMD16<Float> {
        UnsafeRawPointer(self + o).loadUnaligned(as: SIMD16<Float>.self)
    }
}
