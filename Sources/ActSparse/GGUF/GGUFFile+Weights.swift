#if canImport(Glibc)
import Glibc
#endif
import CActSparse

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
        let rowBytes = ic / bs * t.type.blockBytes  // one GGUF row = one output channel
        // Workers own whole 32-column blocks of the plain layout (two int4 columns share a byte).
        let chunks = Parallel.split(cols.count, parts: Parallel.availableCores, align: 32)
        let failures = UnsafeMutablePointer<ActSparseError?>.allocate(capacity: chunks.count)
        failures.initialize(repeating: nil, count: chunks.count)
        defer { failures.deinitialize(count: chunks.count); failures.deallocate() }
        Parallel.run(chunks.count) { k in
            // Tiles of 256 output channels: their GGUF rows stay in L2 while every group is moved.
            do {
                for t0 in stride(from: chunks[k].lowerBound, to: chunks[k].upperBound, by: 256) {
                    let t1 = min(t0 + 256, chunks[k].upperBound)
                    try repack(t, into: p, rows: rows, cols: cols, local: t0..<t1, rowBytes: rowBytes)
                    // This tile's file pages are not needed again (embedding rows the model reads later fault
                    // back in): dropping them as we go keeps even a tensor that is most of the file (a tied
                    // 262 144-token embedding) from being held twice at the peak.
                    release(t.offset + (cols.lowerBound + t0) * rowBytes, bytes: (t1 - t0) * rowBytes)
                }
            } catch {
                failures[k] = error as? ActSparseError ?? .file(path: path, problem: "\(error)")
            }
        }
        for k in 0..<chunks.count { if let e = failures[k] { throw e } }
        // Pages straddling tile edges: the whole slice once more.
        release(t.offset + cols.lowerBound * rowBytes, bytes: cols.count * rowBytes)
        onRepacked?(cols.count * rowBytes * rows.count / ic)
        return p
    }

    /// Repacks GGUF rows cols[local] (output channels) of rows `rows` into the plain layout of `p`: direct byte
    /// moves per type, one GGUF block at a time (the scalar reference is `dequantizeRow` vs `PlainWeights.weight`,
    /// compared in the tests).
    private func repack(_ t: TensorInfo, into p: PlainWeights, rows: Range<Int>, cols: Range<Int>, local: Range<Int>,
                        rowBytes: Int) throws {
        let src = data(t), dst = p.codes.raw, ld = p.rowStride, n = cols.count
        let r0 = rows.lowerBound
        switch t.type.traits.repack {
        case .values:
            let size = t.type == .f32 ? 4 : 2
            for i0 in stride(from: rows.lowerBound, to: rows.upperBound, by: 32) {  // 32-row tiles stay in cache
                let i1 = min(rows.upperBound, i0 + 32)
                for oLocal in local {
                    let row = src + (cols.lowerBound + oLocal) * rowBytes
                    if size == 4 {
                        for i in i0..<i1 {
                            (dst + (i - r0) * ld + oLocal * 4).storeBytes(
                                of: row.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self), as: UInt32.self)
                        }
                    } else {
                        for i in i0..<i1 {
                            (dst + (i - r0) * ld + oLocal * 2).storeBytes(
                                of: row.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self), as: UInt16.self)
                        }
                    }
                }
            }
        case .blocks:
            switch p.format.traits.codec {
            case .u4: try repackBlocks(U4Codec.self, t, into: p, rows: rows, cols: cols, local: local, rowBytes: rowBytes)
            case .u5: try repackBlocks(U5Codec.self, t, into: p, rows: rows, cols: cols, local: local, rowBytes: rowBytes)
            case .i8: try repackBlocks(I8Codec.self, t, into: p, rows: rows, cols: cols, local: local, rowBytes: rowBytes)
            case .u6: try repackBlocks(U6Codec.self, t, into: p, rows: rows, cols: cols, local: local, rowBytes: rowBytes)
            case .f32, .f16, .bf16, .u8:
                throw ActSparseError.file(path: path, problem: "tensor \(t.name): type \(t.type) has no block repack " +
                                          "into \(p.format)")
            }
        case .direct:
            let bb = t.type.blockBytes, q41 = t.type == .q4_1
            let scales = p.scales?.pointer(as: Float16.self), mins = p.offsets?.pointer(as: Float16.self)
            for b in (rows.lowerBound / 32)..<(rows.upperBound / 32) {
                let g = b - r0 / 32
                let groupRows = dst + g * 32 * ld
                /// Scale (and min) of GGUF block (o, b) into the plain group tables; its 32 codes' address.
                func block(_ oLocal: Int) throws -> UnsafeRawPointer {
                    let o = cols.lowerBound + oLocal
                    let blk = src + o * rowBytes + b * bb
                    let d = blk.loadUnaligned(as: Float16.self)
                    let m = q41 ? blk.loadUnaligned(fromByteOffset: 2, as: Float16.self) : 0
                    guard d.isFinite && m.isFinite else {
                        throw ActSparseError.file(path: path, problem: "tensor \(t.name): block \(b) of row \(o) " +
                            "has scale \(d)\(q41 ? " and min \(m)" : ""), expected finite values")
                    }
                    scales?[g * n + oLocal] = d
                    if q41 { mins?[g * n + oLocal] = m }
                    return blk + (q41 ? 4 : 2)
                }
                if t.type == .q8_0 {
                    // 8 columns at a time: an 8 × 8 byte transpose in registers, one 8-byte store per row.
                    var oLocal = local.lowerBound
                    while oLocal + 8 <= local.upperBound {
                        let q0 = try block(oLocal)  // block k's codes are rowBytes further on
                        for k in 1..<8 { _ = try block(oLocal + k) }
                        for c in 0..<4 {
                            let rows8 = transpose8x8(q0 + 8 * c, stride: rowBytes)
                            for r in 0..<8 { (groupRows + (8 * c + r) * ld + oLocal).storeBytes(of: rows8[r], as: UInt64.self) }
                        }
                        oLocal += 8
                    }
                    for o in oLocal..<local.upperBound {
                        let qs = try block(o)
                        for j in 0..<32 {
                            (groupRows + j * ld + o).storeBytes(of: qs.load(fromByteOffset: j, as: UInt8.self),
                                                                as: UInt8.self)
                        }
                    }
                    continue
                }
                // int4: in a 32-column block of the plain layout, columns k and k + half share byte k (low and
                // high nibble; half = 16 except in a short tail block). Whole bytes, no read-modify-write.
                for base in stride(from: local.lowerBound, to: local.upperBound, by: 32) {
                    let width = min(32, n - base), half = min(16, (width + 1) / 2)
                    if width == 32 {
                        // Whole block: 8 byte columns at a time from 8 low-nibble and 8 high-nibble blocks.
                        for k in stride(from: 0, to: 16, by: 8) {
                            let a0 = try block(base + k), c0 = try block(base + k + 16)
                            for t in 1..<8 { _ = try block(base + k + t); _ = try block(base + k + 16 + t) }
                            for h in 0..<2 {  // GGUF bytes 0..<8, then 8..<16
                                let a = transpose8x8(a0 + 8 * h, stride: rowBytes)
                                let c = transpose8x8(c0 + 8 * h, stride: rowBytes)
                                let low = SIMD8<UInt64>(repeating: 0x0F0F_0F0F_0F0F_0F0F)
                                let lo = (a & low) | ((c & low) &<< 4)       // rows j: elements j
                                let hi = ((a &>> 4) & low) | (c & ~low)      // rows j + 16: elements j + 16
                                for r in 0..<8 {
                                    let j = 8 * h + r
                                    (groupRows + j * ld + base / 2 + k).storeBytes(of: lo[r], as: UInt64.self)
                                    (groupRows + (j + 16) * ld + base / 2 + k).storeBytes(of: hi[r], as: UInt64.self)
                                }
                            }
                        }
                        continue
                    }
                    for k in 0..<half {
                        let loQ = try block(base + k)
                        let hiQ = k + half < width ? try block(base + k + half) : nil
                        for j in 0..<16 {  // GGUF byte j holds element j (low nibble) and j + 16 (high nibble)
                            let a = loQ.load(fromByteOffset: j, as: UInt8.self)
                            let c = hiQ?.load(fromByteOffset: j, as: UInt8.self) ?? 0
                            (groupRows + j * ld + base / 2 + k).storeBytes(of: (a & 15) | (c << 4), as: UInt8.self)
                            (groupRows + (j + 16) * ld + base / 2 + k).storeBytes(of: (a >> 4) | (c & 0xF0),
                                                                                 as: UInt8.self)
                        }
                    }
                }
            }
        }
    }

    /// Repack through the type's block decoder (`GGMLType.unpack`): per GGUF block-row and 32 output columns,
    /// unpack 32 blocks into a [32, blockSize] code tile, transpose it 8 × 8 bytes at a time into [blockSize, 32]
    /// and store each row of 32 codes as one codec block; scales go to the group (and super-block) tables.
    private func repackBlocks<C: RowCodec>(_: C.Type, _ t: TensorInfo, into p: PlainWeights, rows: Range<Int>,
                                           cols: Range<Int>, local: Range<Int>, rowBytes: Int) throws {
        let src = data(t), dst = p.codes.raw, ld = p.rowStride, n = cols.count
        let bs = t.type.blockSize, bb = t.type.blockBytes, G = p.format.group, perBlock = bs / G
        let traits = p.format.traits, r0 = rows.lowerBound
        let S = max(1, traits.superBlock)
        let tile = UnsafeMutablePointer<UInt8>.allocate(capacity: 32 * bs)   // [32 cols, bs]
        let tileT = UnsafeMutablePointer<UInt8>.allocate(capacity: bs * 32)  // [bs, 32 cols]
        let sc = UnsafeMutablePointer<UInt16>.allocate(capacity: 16), mn = UnsafeMutablePointer<UInt16>.allocate(capacity: 16)
        defer { tile.deallocate(); tileT.deallocate(); sc.deallocate(); mn.deallocate() }
        sc.initialize(repeating: 0, count: 16); mn.initialize(repeating: 0, count: 16)
        let f16Scales = p.scaleElementBytes == 2
        // Raw pointers hoisted out of the loops (class properties in them cost a retain/release per element).
        let scales = p.scales!.raw, mins = p.offsets?.raw
        let supers = p.superScales?.pointer(as: Float16.self), superMins = p.superMins?.pointer(as: Float16.self)
        let planes = Int32(traits.codec == .u6 ? 2 : traits.codec == .u5 ? 1 : 0)
        let type = t.type
        for b in (rows.lowerBound / bs)..<(rows.upperBound / bs) {
            let i0 = b * bs - r0  // first plain row of this block
            for base in stride(from: local.lowerBound, to: local.upperBound, by: 32) {
                let width = min(32, local.upperBound - base)
                for c in 0..<width {
                    let o = cols.lowerBound + base + c
                    let blk = src + o * rowBytes + b * bb
                    guard type.checkFinite(blk) else {
                        throw ActSparseError.file(path: path, problem: "tensor \(t.name): block \(b) of row \(o) " +
                                                  "has a non-finite scale, expected finite values")
                    }
                    let (d, dmin) = type.unpackFast(blk, codes: tile + c * bs, scale: sc, minimum: mn)
                    for gj in 0..<perBlock {
                        let u = (i0 / G + gj) * n + base + c
                        if f16Scales {
                            scales.storeBytes(of: sc[gj], toByteOffset: 2 * u, as: UInt16.self)
                            mins?.storeBytes(of: mn[gj], toByteOffset: 2 * u, as: UInt16.self)
                        } else {
                            scales.storeBytes(of: UInt8(truncatingIfNeeded: sc[gj]), toByteOffset: u, as: UInt8.self)
                            mins?.storeBytes(of: UInt8(truncatingIfNeeded: mn[gj]), toByteOffset: u, as: UInt8.self)
                        }
                    }
                    if let supers {
                        let su = (i0 / S) * n + base + c
                        supers[su] = d
                        superMins?[su] = dmin
                    }
                }
                if width == 32 {
                    actsparse_transpose32(tile, Int32(bs), tileT)
                    for j in 0..<bs {
                        if traits.codec == .i8 {  // one byte per code: the transposed row as it is
                            (dst + (i0 + j) * ld + C.blockOffset(base)).copyMemory(from: tileT + j * 32, byteCount: 32)
                        } else {
                            actsparse_pack32(tileT + j * 32, planes, (dst + (i0 + j) * ld + C.blockOffset(base)).assumingMemoryBound(to: UInt8.self))
                        }
                    }
                } else {
                    for j in 0..<bs {
                        for c in 0..<width {
                            let code = tile[c * bs + j]
                            C.store(dst + (i0 + j) * ld, base + c, oc: n,
                                    traits.codec == .i8 ? Float(Int8(bitPattern: code)) : Float(code))
                        }
                    }
                }
            }
        }
    }

    /// Eight 8-byte rows at p, p + stride, … as columns: byte k of result r is byte r of row k.
    @inline(__always)
    private func transpose8x8(_ p: UnsafeRawPointer, stride: Int) -> SIMD8<UInt64> {
        var w = SIMD8<UInt64>(), out = SIMD8<UInt64>()
        for k in 0..<8 { w[k] = p.loadUnaligned(fromByteOffset: k * stride, as: UInt64.self) }
        for r in 0..<8 {
            var word: UInt64 = 0
            for k in 0..<8 { word |= ((w[k] &>> UInt64(8 * r)) & 0xFF) &<< UInt64(8 * k) }
            out[r] = word
        }
        return out
    }

    /// Drops this process's copies of the file pages wholly inside [offset, offset + bytes) (mmap'd files only).
    func release(_ offset: Int, bytes: Int) {
        guard mapped else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = (offset + page - 1) / page * page, end = (offset + bytes) / page * page
        if end > start { _ = madvise(UnsafeMutableRawPointer(mutating: base + start), end - start, MADV_DONTNEED) }
    }

    /// Row `r` of a 2-D tensor (dims [n, rows]: n contiguous), dequantized into `out` (n floats): embedding lookup
    /// and the scalar reference of every type (the engine format's formula over `GGMLType.unpack`).
    public func dequantizeRow(_ t: TensorInfo, _ r: Int, into out: UnsafeMutablePointer<Float>) {
        let n = t.dims[0]
        let rowBytes = n / t.type.blockSize * t.type.blockBytes
        let row = data(t) + r * rowBytes
        switch t.type {
        case .f32: for i in 0..<n { out[i] = row.loadUnaligned(fromByteOffset: 4 * i, as: Float.self) }
        case .f16: for i in 0..<n { out[i] = Float(row.loadUnaligned(fromByteOffset: 2 * i, as: Float16.self)) }
        case .bf16:
            for i in 0..<n { out[i] = Float(bitPattern: UInt32(row.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) << 16) }
        default:
            let bs = t.type.blockSize, f = t.type.engineFormat, tr = f.traits
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: bs) { codes in
                withUnsafeTemporaryAllocation(of: UInt16.self, capacity: 32) { p in
                    let sc = p.baseAddress!, mn = sc + 16
                    for b in 0..<(n / bs) {
                        let (d, dmin) = t.type.unpack(row + b * t.type.blockBytes, codes: codes.baseAddress!, scale: sc,
                                                      minimum: mn)
                        for j in 0..<bs {
                            let g = j / f.group
                            let q: Float = tr.codec == .i8 ? Float(Int8(bitPattern: codes[j])) : Float(codes[j])
                            let v: Float
                            switch tr.scales {
                            case .superGroup(let hasMin, let signed):
                                let s = Float(d) * (signed ? Float(Int8(truncatingIfNeeded: sc[g])) : Float(sc[g]))
                                v = hasMin ? s * q + -(Float(dmin) * Float(mn[g])) : s * (q - tr.codeOffset)
                            default:
                                let s = Float(Float16(bitPattern: sc[g]))
                                v = tr.hasMin ? s * q + Float(Float16(bitPattern: mn[g])) : s * (q - tr.codeOffset)
                            }
                            out[b * bs + j] = v
                        }
                    }
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
        // A NaN norm weight would surface layers later as an "invalid activation": name the tensor here.
        if let bad = out.firstIndex(where: { !$0.isFinite }) {
            throw ActSparseError.file(path: path, problem: "tensor \(name): element \(bad) is \(out[bad]), expected "
                + "finite values")
        }
        return out
    }
}
