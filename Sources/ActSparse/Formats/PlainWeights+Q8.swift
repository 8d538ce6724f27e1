import CActSparse

extension PlainWeights {
    /// The weights' half of an int8 GEMV job (`actsparse_q8_job`), nil when the format has no integer codes in
    /// groups (see `FormatTraits.q8CodecAny`). The activation's fields are filled per call.
    func q8Job() -> actsparse_q8_job? {
        let t = format.traits
        guard let codec = t.q8CodecAny, let scales else { return nil }
        var j = actsparse_q8_job()
        j.codes = UnsafePointer(codes.raw.assumingMemoryBound(to: UInt8.self))
        j.stride = rowStride
        j.codec = codec
        j.oc = Int32(oc)
        j.group = Int32(format.group)
        j.superBlock = Int32(t.superBlock)
        j.offset = Int32(t.codeOffset)
        // Measured on 4096 × 11008 Q4_K, 1 thread, cold: 8 / 16 / 32 rows per pass 16.7 / 17.8 / 12.0 GB/s
        // (prefetch 256 B ahead; 0 / 1024 / 2048 B: 12.3 / 16.1 / 15.5 at 16 rows). Three runs, dense / 50 %, ms:
        // 256 B ahead 1.52 / 1.02 (4096 × 4096: 0.74 / 0.53), none 2.29 / 1.21 (0.96 / 0.58), the next pass's rows
        // in address order instead 1.89 / 1.31 (0.75 / 0.57). Prefetching into L2 instead of L1 (the L1 miss buffers
        // were the limit) moved the best to 32 rows and 768 B: 4096 × 4096 Q4_K 1 thread dense / 50 % 0.71 / 0.51 →
        // 0.52 / 0.37 ms, 11008 × 4096 1.93 / 1.36 → 1.38 / 1.02, 4096 × 11008 1.50 / 0.98 → 1.26 / 0.82 (16 / 48 rows,
        // 512 / 1024 / 2048 B within 5 %; T2 as T1).
        j.passRows = 32
        j.prefetch = 768
        switch t.scales {
        case .group(let min):
            j.kind = min ? 1 : 0
            j.d16 = UnsafePointer(scales.pointer(as: Float16.self))
            j.m16 = offsets.map { UnsafePointer($0.pointer(as: Float16.self)) }
        case .superGroup(let min, let signed):
            guard let superScales else { return nil }
            j.kind = min ? 3 : 2
            j.signedSub = signed ? 1 : 0
            j.d16 = UnsafePointer(superScales.pointer(as: Float16.self))
            j.m16 = superMins.map { UnsafePointer($0.pointer(as: Float16.self)) }
            j.sc = UnsafePointer(scales.raw.assumingMemoryBound(to: UInt8.self))
            j.mn = offsets.map { UnsafePointer($0.raw.assumingMemoryBound(to: UInt8.self)) }
        case .none, .perOC:
            return nil
        }
        return j
    }
}
