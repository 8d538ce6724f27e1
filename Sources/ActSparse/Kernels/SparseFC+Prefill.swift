// MARK: - Dense GEMM (prefill, M > 1)
// Compute-bound, so it re-tiles on the fly: per worker, per (KC × NC) block of W, the codes are dequantized once
// into an f32 panel (64 KiB, stays in L2) and reused by every MR-row tile of x. This keeps one copy of the
// weights (the plain layout) instead of a second, blocked one.

extension SparseFC {
    /// Whether x[0..<n] holds no NaN or ±∞: x · 0 is 0 for finite x and NaN otherwise, summed 16 lanes at a time
    /// (the per-element check with its early exit ran scalar).
    static func allFinite(_ x: UnsafePointer<Float>, count n: Int) -> Bool {
        var acc = SIMD16<Float>(repeating: 0), i = 0
        while i + 16 <= n {
            acc += UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self) * 0
            i += 16
        }
        var tail: Float = 0
        while i < n { tail += x[i] * 0; i += 1 }
        return (acc.sum() + tail) == 0
    }

    /// y[M, OC] = x[M, IC] · W (dense). `x` and `y` are row-major.
    public func prefill(_ x: UnsafePointer<Float>, m: Int, into y: UnsafeMutablePointer<Float>) throws {
        guard m > 0 else { throw ActSparseError.shape(what: "prefill rows M", expected: "> 0", found: "\(m)") }
        if !SparseFC.allFinite(x, count: m * ic) {
            for i in 0..<(m * ic) where !x[i].isFinite {
                throw ActSparseError.invalidValue(what: "prefill activation x[\(i / ic), \(i % ic)]",
                                                  expected: "a finite value", found: "\(x[i])")
            }
        }
        if m <= SparseFC.gemvRowsMax {
            for r in 0..<m {
                try rowActivation.keepAll(x + r * ic, count: ic)
                decodeUnchecked(rowActivation, into: y + r * oc)
            }
            return
        }
        if prefillsInt8, let q8 { return try prefillQ8(x, m: m, into: y, job: q8) }
        let MR = SparseFC.MR
        let tiles = (m + MR - 1) / MR
        // Pack x as [tile][IC][MR]: one broadcast per (row, i) reads sequentially. Missing rows are zeros.
        let px = try packedX.floats(tiles * ic * MR)
        for t in 0..<tiles {
            for r in 0..<MR {
                let row = t * MR + r
                let dst = px + t * ic * MR + r
                if row < m {
                    for i in 0..<ic { dst[i * MR] = x[row * ic + i] }
                } else {
                    for i in 0..<ic { dst[i * MR] = 0 }
                }
            }
        }
        let job = PrefillJob(fc: self, px: UnsafePointer(px), m: m, tiles: tiles, y: y)
        Parallel.run(prefillChunks.count) { worker in
            var j = job
            j.worker = worker
            weights.format.traits.codec.visit(j)
        }
    }
}

struct PrefillJob: CodecVisitor {
    let fc: SparseFC
    let px: UnsafePointer<Float>
    let m: Int
    let tiles: Int
    let y: UnsafeMutablePointer<Float>
    var worker = 0

    func visit<C: RowCodec>(_ codec: C.Type) {
        let w = fc.weights
        let ic = w.ic, oc = w.oc
        let MR = SparseFC.MR, NC = SparseFC.NC, KC = SparseFC.KC
        let range = fc.prefillChunks[worker]
        let panel = fc.panels[worker].pointer(as: Float.self)
        var o0 = range.lowerBound
        while o0 < range.upperBound {
            let nc = min(NC, oc - o0)
            var k0 = 0
            while k0 < ic {
                let kc = min(KC, ic - k0)
                packPanel(C.self, w, rows: k0..<(k0 + kc), col: o0, into: panel)
                for t in 0..<tiles {
                    microKernel(panel, px + (t * ic + k0) * MR, kc: kc, first: k0 == 0,
                                rows: min(MR, m - t * MR), yRow: y + t * MR * oc + o0, ldy: oc, nc: nc)
                }
                k0 += kc
            }
            o0 += NC
        }
    }

    /// panel[k][0..<NC] = W[rows.lowerBound + k, col ..< col + NC] dequantized; columns past OC are 0.
    @inline(__always)
    func packPanel<C: RowCodec>(_: C.Type, _ w: PlainWeights, rows: Range<Int>, col: Int,
                                into panel: UnsafeMutablePointer<Float>) {
        let NC = SparseFC.NC, oc = w.oc
        let full = col + NC <= oc
        let grouped = w.format.scaling == .perGroup
        var scales = Epilogue(w, group: grouped ? rows.lowerBound / w.format.group : 0, sx: 0)
        for i in rows {
            let dst = panel + (i - rows.lowerBound) * NC
            guard full else {
                for c in 0..<NC { dst[c] = col + c < oc ? w.weight(i, col + c) : 0 }
                continue
            }
            if grouped && i % w.format.group == 0 { scales = Epilogue(w, group: i / w.format.group, sx: 0) }
            let r = w.row(i)
            for half in 0..<2 {
                let o = col + half * 32
                var (a, b) = C.load32(r, o)
                a = scales.weights16(a, o); b = scales.weights16(b, o + 16)
                let p = UnsafeMutableRawPointer(dst + half * 32)
                p.storeBytes(of: a, as: SIMD16<Float>.self)
                p.storeBytes(of: b, toByteOffset: 64, as: SIMD16<Float>.self)
            }
        }
    }

    /// y[0..<rows, 0..<nc] (+)= xTile[kc][MR] · panel[kc][NC]: 4 × 64 accumulators in 16 registers.
    @inline(__always)
    func microKernel(_ panel: UnsafeMutablePointer<Float>, _ xt: UnsafePointer<Float>, kc: Int, first: Bool,
                     rows: Int, yRow: UnsafeMutablePointer<Float>, ldy: Int, nc: Int) {
        typealias V = SIMD16<Float>
        var c00 = V(), c01 = V(), c02 = V(), c03 = V()
        var c10 = V(), c11 = V(), c12 = V(), c13 = V()
        var c20 = V(), c21 = V(), c22 = V(), c23 = V()
        var c30 = V(), c31 = V(), c32 = V(), c33 = V()
        var pp = UnsafeRawPointer(panel)
        var xp = xt
        for _ in 0..<kc {
            let b0 = pp.load(as: V.self), b1 = pp.load(fromByteOffset: 64, as: V.self)
            let b2 = pp.load(fromByteOffset: 128, as: V.self), b3 = pp.load(fromByteOffset: 192, as: V.self)
            var a = V(repeating: xp[0])
            c00 = c00.addingProduct(a, b0); c01 = c01.addingProduct(a, b1)
            c02 = c02.addingProduct(a, b2); c03 = c03.addingProduct(a, b3)
            a = V(repeating: xp[1])
            c10 = c10.addingProduct(a, b0); c11 = c11.addingProduct(a, b1)
            c12 = c12.addingProduct(a, b2); c13 = c13.addingProduct(a, b3)
            a = V(repeating: xp[2])
            c20 = c20.addingProduct(a, b0); c21 = c21.addingProduct(a, b1)
            c22 = c22.addingProduct(a, b2); c23 = c23.addingProduct(a, b3)
            a = V(repeating: xp[3])
            c30 = c30.addingProduct(a, b0); c31 = c31.addingProduct(a, b1)
            c32 = c32.addingProduct(a, b2); c33 = c33.addingProduct(a, b3)
            pp += 256
            xp += 4
        }
        if rows > 0 { store(yRow, c00, c01, c02, c03, first: first, nc: nc) }
        if rows > 1 { store(yRow + ldy, c10, c11, c12, c13, first: first, nc: nc) }
        if rows > 2 { store(yRow + 2 * ldy, c20, c21, c22, c23, first: first, nc: nc) }
        if rows > 3 { store(yRow + 3 * ldy, c30, c31, c32, c33, first: first, nc: nc) }
    }

    /// One row of the tile into y: overwrite on the first K block, accumulate after; a partial NC tail by lanes.
    @inline(__always)
    func store(_ yr: UnsafeMutablePointer<Float>, _ a0: SIMD16<Float>, _ a1: SIMD16<Float>, _ a2: SIMD16<Float>,
               _ a3: SIMD16<Float>, first: Bool, nc: Int) {
        if nc == SparseFC.NC {
            let p = UnsafeMutableRawPointer(yr)
            if first {
                p.storeBytes(of: a0, as: SIMD16<Float>.self)
                p.storeBytes(of: a1, toByteOffset: 64, as: SIMD16<Float>.self)
                p.storeBytes(of: a2, toByteOffset: 128, as: SIMD16<Float>.self)
                p.storeBytes(of: a3, toByteOffset: 192, as: SIMD16<Float>.self)
            } else {
                p.storeBytes(of: yr.load16(0) + a0, as: SIMD16<Float>.self)
                p.storeBytes(of: yr.load16(16) + a1, toByteOffset: 64, as: SIMD16<Float>.self)
                p.storeBytes(of: yr.load16(32) + a2, toByteOffset: 128, as: SIMD16<Float>.self)
                p.storeBytes(of: yr.load16(48) + a3, toByteOffset: 192, as: SIMD16<Float>.self)
            }
            return
        }
        for c in 0..<nc {
            let v = c < 16 ? a0[c] : c < 32 ? a1[c - 16] : c < 48 ? a2[c - 32] : a3[c - 48]
            yr[c] = first ? v : yr[c] + v
        }
    }
}
