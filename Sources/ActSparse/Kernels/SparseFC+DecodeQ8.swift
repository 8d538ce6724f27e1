import CActSparse

// MARK: - Sparse GEMV with int8 activations (decode, M = 1; `activations == .int8`)
// The kept channels are quantized per weight group once per token (`SparseActivation.quantized`), then every
// worker runs `actsparse_q8_gemv_isa` (AVX-512 VNNI, AVX-VNNI, AVX2 or scalar: `isa`) on its OC chunk. Columns of a last partial 32-column block run here, with
// the kernel's own scalar epilogue helpers.

extension SparseFC {
    /// The int8 GEMV whatever `activations` says, on any storage the kernel reads (8-bit codes included, which
    /// `decode` leaves to the f32 kernel): tests and benchmarks. Throws if these weights have no int8 path.
    public func decodeInt8(_ a: SparseActivation, into y: UnsafeMutablePointer<Float>) throws {
        guard let q8, a.width == ic else {
            throw ActSparseError.invalidValue(what: "int8 decode", expected: "int8-capable weights and \(ic) channels",
                                              found: "\(weights.format), \(a.width) channels")
        }
        decodeQ8(a, into: y, job: q8)
    }

    /// Workers split the kept groups (IC) instead of the columns, each over all columns into its own partial y
    /// (worker 0 into y), then the partials are summed column chunk by column chunk. Taken when a column chunk of a
    /// row would be short (`q8SplitsRows`): whole rows are longer sequential runs, which this machine's prefetchers
    /// follow better (docs/design.md, "Kernel tuning"). The partial sums add in another order
    /// than on one thread (f32 rounding).
    func decodeQ8Rows(_ qa: QuantizedActivation, _ job: actsparse_q8_job, _ y: UnsafeMutablePointer<Float>,
                      _ scratch: UnsafeMutablePointer<Float>) {
        let T = decodeChunks.count, vecEnd = oc / 32 * 32
        // Group ranges with about equal padded rows each: bounds[w]..<bounds[w + 1].
        let bounds = q8Bounds
        var total = 0, run = 0, cut = 1
        for gi in 0..<qa.groups { total += Int(qa.glen[gi]) }
        bounds[0] = 0
        for gi in 0..<qa.groups where cut < T {
            run += Int(qa.glen[gi])
            if run * T >= total * cut { bounds[cut] = gi + 1; cut += 1 }
        }
        while cut <= T { bounds[cut] = qa.groups; cut += 1 }
        let accBase = UnsafeMutableRawPointer(scratch).assumingMemoryBound(to: Int32.self)
        let parts = scratch + T * (oc + 128)
        let w = weights, codec = w.format.traits.codec.type, offset = Int32(w.format.traits.codeOffset)
        Parallel.run(T) { worker in
            let g0 = bounds[worker], g1 = bounds[worker + 1]
            let yw = worker == 0 ? y : parts + (worker - 1) * self.oc
            yw.update(repeating: 0, count: self.oc)
            guard g1 > g0 else { return }
            var j = job
            j.ngroups = Int32(g1 - g0)
            j.gid = job.gid + g0; j.gstart = job.gstart + g0; j.glen = job.glen + g0; j.gsum = job.gsum + g0
            j.gxs = job.gxs + g0; j.gsx = job.gsx + g0
            withUnsafePointer(to: j) { j in
                if vecEnd > 0 { actsparse_q8_gemv_isa(self.isa.rawValue, j, yw, 0, Int32(vecEnd), accBase + worker * (self.oc + 128)) }
                self.q8Tail(qa, j, groups: g0..<g1, columns: vecEnd..<self.oc, yw, codec, offset)
            }
        }
        Parallel.run(T) { worker in
            let r = self.decodeChunks[worker]
            for p in 1..<T { let src = parts + (p - 1) * self.oc; for o in r { y[o] += src[o] } }
        }
    }

    /// The int8 path's plain scalar twin (`actsparse_q8_gemv_scalar`, one thread), for tests: the same bits as
    /// `decode` with `activations == .int8`. Throws if these weights have no int8 path.
    public func decodeInt8Reference(_ a: SparseActivation, into y: UnsafeMutablePointer<Float>) throws {
        guard let q8, a.width == ic else {
            throw ActSparseError.invalidValue(what: "int8 reference decode", expected: "int8-capable weights and \(ic) channels",
                                              found: "\(weights.format), \(a.width) channels")
        }
        decodeQ8(a, into: y, job: q8, scalar: true)
    }

    func decodeQ8(_ a: SparseActivation, into y: UnsafeMutablePointer<Float>, job template: actsparse_q8_job,
                  scalar: Bool = false) {
        let qa = a.quantized(group: weights.format.group)
        var job = template
        job.ngroups = Int32(qa.groups)
        job.gid = UnsafePointer(qa.gid); job.gstart = UnsafePointer(qa.gstart)
        job.glen = UnsafePointer(qa.glen); job.gsum = UnsafePointer(qa.gsum)
        job.gxs = UnsafePointer(qa.gxs); job.gsx = UnsafePointer(qa.gsx)
        job.rows = UnsafePointer(qa.rows); job.q = UnsafePointer(qa.q)
        let w = weights, codec = w.format.traits.codec.type, offset = Int32(w.format.traits.codeOffset)
        if !scalar, q8SplitsRows, qa.groups >= decodeChunks.count,
           let scratch = try? packedX.floats(decodeChunks.count * (oc + 128) + (decodeChunks.count - 1) * oc) {
            return decodeQ8Rows(qa, job, y, scratch)
        }
        let chunks = scalar ? [0..<oc] : decodeChunks
        Parallel.run(chunks.count) { worker in
            let r = chunks[worker], lo = r.lowerBound, hi = r.upperBound
            let vecEnd = lo + (hi - lo) / 32 * 32
            (y + lo).update(repeating: 0, count: hi - lo)
            let acc = UnsafeMutableRawPointer(self.partial.raw).assumingMemoryBound(to: Int32.self) + lo + 128 * worker
            withUnsafePointer(to: job) {
                if scalar { actsparse_q8_gemv_scalar($0, y, Int32(lo), Int32(vecEnd)) }
                else { actsparse_q8_gemv_isa(self.isa.rawValue, $0, y, Int32(lo), Int32(vecEnd), acc) }
            }
            guard vecEnd < hi else { return }
            withUnsafePointer(to: job) { self.q8Tail(qa, $0, groups: 0..<qa.groups, columns: vecEnd..<hi, y, codec, offset) }
        }
    }
}

extension SparseFC {
    /// Columns past the last full 32-column block: the kernel's arithmetic in scalar code (exact integer sums, then
    /// its fused epilogue y += s·x̂, and with a min y += min·Σx̂), for the groups `groups` of `qa`.
    func q8Tail(_ qa: QuantizedActivation, _ j: UnsafePointer<actsparse_q8_job>, groups: Range<Int>, columns: Range<Int>,
                _ y: UnsafeMutablePointer<Float>, _ codec: any RowCodec.Type, _ offset: Int32) {
        guard !columns.isEmpty else { return }
        let w = weights
        for gi in groups {
            let g = qa.gid[gi], st = Int(qa.gstart[gi])
            for o in columns {
                var acc: Int32 = 0
                for k in 0..<Int(qa.glen[gi]) {
                    let code = Int32(codec.value(w.row(Int(qa.rows[st + k])), o, oc: w.oc))
                    acc &+= Int32(qa.q[st + k]) &* (code &- offset)
                }
                let x = Float(acc) * qa.gxs[gi], oo = Int32(o)
                y[o] = y[o].addingProduct(actsparse_q8_scale(j, g, oo), x)
                if j.pointee.kind & 1 != 0 { y[o] = y[o].addingProduct(actsparse_q8_min(j, g, oo), qa.gsx[gi]) }
            }
        }
    }
}
