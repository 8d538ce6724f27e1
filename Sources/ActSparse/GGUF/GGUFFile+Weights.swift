// MARK: - Loading tensors into the engine's layouts

extension GGUFFile {
    /// The slice W[rows, cols] of a linear weight (GGUF dims [IC, OC]: IC contiguous per OC row) repacked, once,
    /// into the plain [IC, OC] layout, in the engine format its type maps to without loss. `rows` must start on
    /// a block boundary.
    public func plainWeights(_ t: TensorInfo, rows: Range<Int>? = nil, cols: Range<Int>? = nil) throws -> PlainWeights {
        guard t.dims.count == 2 else {
            throw ActSparseError.file(path: path, problem: "tensor \(t.name): expected 2 dims, found \(t.dims)")
        }
        let ic = t.dims[0], oc = t.dims[1]
        let rows = rows ?? 0..<ic, cols = cols ?? 0..<oc
        let bs = t.type.blockSize
        guard rows.lowerBound >= 0, rows.upperBound <= ic, cols.lowerBound >= 0, cols.upperBound <= oc,
              rows.lowerBound % bs == 0, rows.count % bs == 0, !rows.isEmpty, !cols.isEmpty else {
            throw ActSparseError.shape(what: "slice of \(t.name) in \(path)",
                                       expected: "rows within 0..<\(ic) on \(bs)-blocks, cols within 0..<\(oc)",
                                       found: "rows \(rows), cols \(cols)")
        }
        let format = t.type.engineFormat
        let p = try PlainWeights(format: format, ic: rows.count, oc: cols.count)
        let src = data(t)
        let rowBytes = ic / bs * t.type.blockBytes  // one GGUF row = one output channel
        let n = cols.count
        let codec = format.kind.codec
        for (oLocal, o) in cols.enumerated() {
            let row = src + o * rowBytes
            switch t.type {
            case .f32:
                for i in rows { p.set(i - rows.lowerBound, oLocal, row.loadUnaligned(fromByteOffset: 4 * i, as: Float.self), codec) }
            case .f16:
                for i in rows {
                    p.set(i - rows.lowerBound, oLocal, Float(row.loadUnaligned(fromByteOffset: 2 * i, as: Float16.self)), codec)
                }
            case .bf16:
                for i in rows {
                    let b = row.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)
                    p.set(i - rows.lowerBound, oLocal, Float(bitPattern: UInt32(b) << 16), codec)
                }
            case .q4_0, .q4_1, .q8_0:
                for b in (rows.lowerBound / 32)..<(rows.upperBound / 32) {
                    let blk = row + b * t.type.blockBytes
                    let g = b - rows.lowerBound / 32
                    let d = blk.loadUnaligned(as: Float16.self)
                    let m = t.type == .q4_1 ? blk.loadUnaligned(fromByteOffset: 2, as: Float16.self) : 0
                    guard d.isFinite && m.isFinite else {
                        throw ActSparseError.file(path: path, problem: "tensor \(t.name): block \(b) of row \(o) has " +
                            "scale \(d)\(t.type == .q4_1 ? " and min \(m)" : ""), expected finite values")
                    }
                    p.scales?.pointer(as: Float16.self)[g * n + oLocal] = d  // grouped formats have both
                    if t.type == .q4_1 { p.offsets?.pointer(as: Float16.self)[g * n + oLocal] = m }
                    let qs = blk + (t.type == .q4_1 ? 4 : 2)
                    for j in 0..<32 {
                        let code: Float
                        if t.type == .q8_0 {
                            code = Float(qs.load(fromByteOffset: j, as: Int8.self))
                        } else {
                            let byte = qs.load(fromByteOffset: j & 15, as: UInt8.self)
                            code = Float(j < 16 ? byte & 15 : byte >> 4)
                        }
                        p.set(g * 32 + j, oLocal, code, codec)
                    }
                }
            }
        }
        return p
    }

    /// Row `r` of a 2-D tensor (dims [n, rows]: n contiguous), dequantized into `out` (n floats): embedding lookup.
    public func dequantizeRow(_ t: TensorInfo, _ r: Int, into out: UnsafeMutablePointer<Float>) {
        let n = t.dims[0]
        let rowBytes = n / t.type.blockSize * t.type.blockBytes
        let row = data(t) + r * rowBytes
        switch t.type {
        case .f32: for i in 0..<n { out[i] = row.loadUnaligned(fromByteOffset: 4 * i, as: Float.self) }
        case .f16: for i in 0..<n { out[i] = Float(row.loadUnaligned(fromByteOffset: 2 * i, as: Float16.self)) }
        case .bf16:
            for i in 0..<n { out[i] = Float(bitPattern: UInt32(row.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) << 16) }
        case .q4_0, .q4_1, .q8_0:
            for b in 0..<(n / 32) {
                let blk = row + b * t.type.blockBytes
                let d = Float(blk.loadUnaligned(as: Float16.self))
                let m = t.type == .q4_1 ? Float(blk.loadUnaligned(fromByteOffset: 2, as: Float16.self)) : 0
                let qs = blk + (t.type == .q4_1 ? 4 : 2)
                for j in 0..<32 {
                    let v: Float
                    switch t.type {
                    case .q8_0: v = d * Float(qs.load(fromByteOffset: j, as: Int8.self))
                    case .q4_0:
                        let byte = qs.load(fromByteOffset: j & 15, as: UInt8.self)
                        v = d * (Float(j < 16 ? byte & 15 : byte >> 4) - 8)
                    default:
                        let byte = qs.load(fromByteOffset: j & 15, as: UInt8.self)
                        v = d * Float(j < 16 ? byte & 15 : byte >> 4) + m
                    }
                    out[b * 32 + j] = v
                }
            }
        }
    }

    /// A 1-D f32 (or f16/bf16) tensor as floats (norm weights).
    public func floats(_ name: String, count: Int) throws -> [Float] {
        let t = try tensor(name, dims: [count])
        var out = [Float](repeating: 0, count: count)
        guard t.type.blockSize == 1 else {
            throw ActSparseError.file(path: path, problem: "tensor \(name): expected F32/F16/BF16, found \(t.type)")
        }
        dequantizeRow(t, 0, into: &out)
        return out
    }
}
