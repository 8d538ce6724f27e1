import CActSparse

// MARK: - Prefill GEMM with int8 activations (M > gemvRowsMax, `activations == .int8`)
// Each prompt row is quantized per weight group once (`actsparse_q8_quantize_rows`); every worker runs
// `actsparse_q8_gemm_isa` (`isa`) on its OC chunk: per tile of 128 (AVX-512) or 64 columns and group, the group's rows are interleaved once
// into an L1 panel and met by every prompt row. Columns of a last partial 32-column block run here.

extension SparseFC {
    /// Prompt rows per int8 GEMM call (see `prefillQ8`).
    static let gemmRows = 64

    /// y[M, OC] = x̂[M, IC] · W, x̂ the int8 activations. One scratch (the shared `packedX`): xq [M, IC] int8, xs and
    /// Σq [M, IC/G], then per worker a 64-byte-aligned panel (G/4 × 512 bytes) and its [M, 128] float sums.
    func prefillQ8(_ x: UnsafePointer<Float>, m: Int, into y: UnsafeMutablePointer<Float>, job: actsparse_q8_job,
                   scalar: Bool = false) throws {
        let g = weights.format.group, ng = ic / g
        let chunks = scalar ? [0..<oc] : decodeChunks
        let panelBytes = (g / 4 * 512 + 63) / 64 * 64, yaccBytes = (min(m, SparseFC.gemmRows) * 128 * 4 + 63) / 64 * 64
        let head = (m * ic + 63) / 64 * 64 + 2 * ((m * ng * 4 + 63) / 64 * 64)
        let total = head + chunks.count * (panelBytes + yaccBytes)
        let raw = UnsafeMutableRawPointer(try packedX.floats((total + 3) / 4))
        let xq = raw.assumingMemoryBound(to: Int8.self)
        let xs = (raw + (m * ic + 63) / 64 * 64).assumingMemoryBound(to: Float.self)
        let xsum = (raw + (m * ic + 63) / 64 * 64 + (m * ng * 4 + 63) / 64 * 64).assumingMemoryBound(to: Int32.self)
        // Rows quantized on every worker (on one thread this was a tenth of a scoring prefill).
        let rowParts = scalar ? [0..<m] : Parallel.split(m, parts: chunks.count, align: 1)
        Parallel.run(rowParts.count) { worker in
            let r = rowParts[worker]
            actsparse_q8_quantize_rows(x + r.lowerBound * self.ic, Int32(r.count), Int32(self.ic), Int32(g),
                                       xq + r.lowerBound * self.ic, xs + r.lowerBound * ng, xsum + r.lowerBound * ng)
        }
        let w = weights, codec = w.format.traits.codec.type, offset = Int32(w.format.traits.codeOffset)
        Parallel.run(chunks.count) { worker in
            let r = chunks[worker], lo = r.lowerBound, hi = r.upperBound
            let vecEnd = lo + (hi - lo) / 32 * 32
            let mine = raw + head + worker * (panelBytes + yaccBytes)
            withUnsafePointer(to: job) { j in
                if vecEnd > lo {
                    if scalar {
                        actsparse_q8_gemm_scalar(j, Int32(self.ic), xq, xs, xsum, Int32(m), y, Int32(lo), Int32(vecEnd))
                    } else {
                        // Rows in blocks of `gemmRows`: a tile's float sums ([rows, tile] in `yacc`) stay in L1 (a
                        // 516-row prompt's did not: 34 vs 47 GMAC/s per thread here); a block rebuilds the panels.
                        for r0 in stride(from: 0, to: m, by: SparseFC.gemmRows) {
                            let rows = min(SparseFC.gemmRows, m - r0)
                            actsparse_q8_gemm_isa(self.isa.rawValue, j, Int32(self.ic), xq + r0 * self.ic, xs + r0 * ng,
                                                  xsum + r0 * ng, Int32(rows), y + r0 * self.oc, Int32(lo), Int32(vecEnd),
                                                  mine.assumingMemoryBound(to: UInt8.self),
                                                  (mine + panelBytes).assumingMemoryBound(to: Float.self))
                        }
                    }
                }
                // Tail columns: the scalar twin's arithmetic.
                for o in vecEnd..<hi {
                    for row in 0..<m {
                        var acc: Float = 0
                        for gi in 0..<ng {
                            var a: Int32 = 0
                            for k in 0..<g {
                                let code = Int32(codec.value(w.row(gi * g + k), o, oc: w.oc))
                                a &+= Int32(xq[row * self.ic + gi * g + k]) &* (code &- offset)
                            }
                            let xv = xs[row * ng + gi], oo = Int32(o), gg = Int32(gi)
                            acc = acc.addingProduct(actsparse_q8_scale(j, gg, oo), Float(a) * xv)
                            if j.pointee.kind & 1 != 0 {
                                acc = acc.addingProduct(actsparse_q8_min(j, gg, oo), xv * Float(xsum[row * ng + gi]))
                            }
                        }
                        y[row * self.oc + o] = acc
                    }
                }
            }
        }
    }

    /// The int8 prefill's plain scalar twin (one thread), for tests. Throws if these weights have no int8 path.
    public func prefillInt8Reference(_ x: UnsafePointer<Float>, m: Int, into y: UnsafeMutablePointer<Float>) throws {
        guard let q8, m > 0 else {
            throw ActSparseError.invalidValue(what: "int8 reference prefill", expected: "int8-capable weights and M > 0",
                                              found: "\(weights.format), M = \(m)")
        }
        try prefillQ8(x, m: m, into: y, job: q8, scalar: true)
    }
}
