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
        // Rows per pass and prefetch distance (into L2) were tuned on the 4096 × 11008 and 4096 × 4096 shapes
        // (docs/design.md, "Kernel tuning").
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
