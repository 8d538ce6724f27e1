// MARK: - The attention block's output projection, whole or split over ranks
//
// The one place the tensor-parallel split of o is decided (`ModelShard.output`). One rank (`shard.isWhole`):
// all of o. `rows`: this rank's heads' IC rows of o, then one sum over the ranks. `columns` (a small model whose
// heads cannot be cut on whole quantization blocks): every rank's heads gathered first, then this rank's OC slice
// of o, then the slices gathered.

extension LlamaModel {
    /// branch[M, H] = o(attention[M, lq]) summed over ranks. Decode (M = 1) thresholds its input (sparse GEMV);
    /// prefill is dense unless `thresholdPrefill`. `rows`: this rank's IC slice, then one all-reduce.
    /// `columns`: the whole attention output gathered first, then this rank's OC slice, then gathered.
    func outputProjection(_ layer: Layer, _ l: Int, m: Int, decode: Bool, attention a: UnsafeMutablePointer<Float>,
                          into branch: UnsafeMutablePointer<Float>) throws {
        let c = config
        var input = a, width = lq
        if shard.output == .columns && !shard.isWhole {
            // [M, qDim] every rank's heads, then rank-major blocks reordered into rows
            width = c.qDim
            let counts = m == 1 ? shard.attentionCounts : shard.attentionCounts.map { $0 * m }
            let blocks = try prefillScratch.gathered.floats(m * c.qDim)
            try exchanged { try exchange?.gather(a, count: m * lq, into: blocks, counts: counts) }
            input = m == 1 ? blocks : try prefillScratch.gatheredRows.floats(m * c.qDim)
            if m > 1 { RankBlocks.interleave(blocks, rows: m, widths: counts.map { $0 / m }, into: input) }
        }
        if decode {
            try keep(keptQ, input, count: width, t: outputThresholds[l])
            keptOutput &+= keptQ.count
        } else {
            capture?(l, .output, input, m)
            if thresholdPrefill { SparseActivation.zeroDropped(input, count: m * width, t: outputThresholds[l]) }
        }
        switch (shard.output, shard.isWhole) {
        case (_, true), (.rows, false):
            if decode { try layer.o.decode(keptQ, into: branch) } else { try layer.o.prefill(input, m: m, into: branch) }
            if !shard.isWhole { try exchanged { try exchange?.sum(branch, count: m * c.hidden) } }
        case (.columns, false):
            let hr = shard.hidden.count
            let part = decode ? oPart : try prefillScratch.oSlice.floats(m * hr)
            if decode { try layer.o.decode(keptQ, into: part) } else { try layer.o.prefill(input, m: m, into: part) }
            let counts = m == 1 ? shard.hiddenCounts : shard.hiddenCounts.map { $0 * m }
            let blocks = try prefillScratch.gathered.floats(m * c.hidden)
            try exchanged { try exchange?.gather(part, count: m * hr, into: m == 1 ? branch : blocks, counts: counts) }
            if m > 1 { RankBlocks.interleave(blocks, rows: m, widths: counts.map { $0 / m }, into: branch) }
        }
    }
}
