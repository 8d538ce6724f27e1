import CActSparse

// MARK: - Sparse GEMV with int8 activations (decode, M = 1; `activations == .int8`)
// The kept channels are quantized per weight group once per token (`SparseActivation.quantized`), then every
// worker runs `actsparse_q8_gemv` (VNNI) on its OC chunk. Columns of a last partial 32-column block run here, with
// the kernel's own scalar epilogue helpers.

extension SparseFC {
    /// Whether this build has the VNNI int8 GEMV (x86-64 with AVX512-VNNI, VBMI and BITALG at compile time).
    public static var int8Available: Bool { actsparse_q8_available() != 0 }

    /// The int8 GEMV whatever `activations` says, on any storage the kernel reads (8-bit codes included, which
    /// `decode` leaves to the f32 kernel): tests and benchmarks. Throws if these weights have no int8 path.
    public func decodeInt8(_ a: SparseActivation, into y: UnsafeMutablePointer<Float>) throws {
        guard let q8, a.width == ic else {
            throw ActSparseError.invalidValue(what: "int8 decode", expected: "int8-capable weights and \(ic) channels",
                                              found: "\(weights.format), \(a.width) channels")
        }
        decodeQ8(a, into: y, job: q8)
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
        let chunks = scalar ? [0..<oc] : decodeChunks
        Parallel.run(chunks.count) { worker in
            let r = chunks[worker], lo = r.lowerBound, hi = r.upperBound
            let vecEnd = lo + (hi - lo) / 32 * 32
            (y + lo).update(repeating: 0, count: hi - lo)
            let acc = UnsafeMutableRawPointer(self.partial.raw).assumingMemoryBound(to: Int32.self) + lo + 128 * worker
            withUnsafePointer(to: job) {
                if scalar { actsparse_q8_gemv_scalar($0, y, Int32(lo), Int32(vecEnd)) }
                else { actsparse_q8_gemv($0, y, Int32(lo), Int32(vecEnd), acc) }
            }
            guard vecEnd < hi else { return }
            withUnsafePointer(to: job) { j in
                for gi in 0..<qa.groups {
                    let g = qa.gid[gi], st = Int(qa.gstart[gi])
                    for o in vecEnd..<hi {
                        var acc: Int32 = 0
                        for k in 0..<Int(qa.glen[gi]) {
                            let code = Int32(codec.value(w.row(Int(qa.rows[st + k])), o, oc: w.oc))
                            acc &+= Int32(qa.q[st + k]) &* (code &- offset)
                        }
                        let x = Float(acc) * qa.gxs[gi], oo = Int32(o)
                        // The kernel's fused epilogue: y += s·x̂, then (with a min) y += min·Σx̂.
                        y[o] = y[o].addingProduct(actsparse_q8_scale(j, g, oo), x)
                        if j.pointee.kind & 1 != 0 { y[o] = y[o].addingProduct(actsparse_q8_min(j, g, oo), qa.gsx[gi]) }
                    }
                }
            }
        }
    }
}
