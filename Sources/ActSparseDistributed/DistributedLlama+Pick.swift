import ActSparse

extension DistributedLlama {
    /// What a forward left for rank 0: the whole logits, the next token, or the sampling candidates.
    struct Picked {
        var logits: UnsafeMutablePointer<Float>?
        var token: Int32?
        /// (p relative to the largest, token) from every rank; `total` = Σ p over the vocabulary
        var candidates: [(Float, Int)] = []
        var total: Float = 0
    }

    /// After a forward, every rank runs the same collectives on its vocabulary slice of the logits (`model`
    /// scope). In `mlp` scope, or on one rank, rank 0 already holds the whole logits.
    func finish(_ logits: UnsafeMutablePointer<Float>, pick: Pick?, sampler: Sampler?) throws -> Picked {
        guard scope == .model, let shard = local?.shard, !shard.isWhole else { return Picked(logits: logits) }
        let t0 = Timing.now()
        defer { headNanos &+= Timing.now() - t0 }
        let v = shard.vocab, n = v.count
        var best = 0
        for i in 1..<n where logits[i] > logits[best] { best = i }
        switch pick {
        case .logits:
            try comm.gatherv(logits, count: n, into: comm.isRoot ? fullLogits : nil,
                             counts: shard.vocabCounts, root: 0)
            return Picked(logits: comm.isRoot ? fullLogits : nil)
        case .greedy:
            // Ties: MAXLOC keeps the smallest index, as one rank's first-maximum scan does.
            return Picked(token: try comm.allReduceMaxLoc(value: logits[best], index: Int32(v.lowerBound + best)).index)
        case .sample:
            guard let sampler, sampler.temperature > 0 else {
                throw ProtocolError(layer: nil, step: "pick", problem: "sampling without a temperature > 0 from rank 0")
            }
            try sampler.validate()
            let mx = try comm.allReduceMaxLoc(value: logits[best], index: Int32(v.lowerBound + best)).value
            let part = sampler.partialSum(logits, count: n, max: mx)
            var total: Float = 0
            try withUnsafePointer(to: part) { try comm.allReduceSum($0, into: &total, count: 1) }
            let mine = sampler.nucleusCandidates(logits, count: n, offset: v.lowerBound, max: mx, total: total)
            // Counts to everyone (the gather's layout), then (token, p) pairs to rank 0.
            var count = Float(mine.count)
            var counts = [Float](repeating: 0, count: comm.size)
            try comm.allGatherv(&count, count: 1, into: &counts, counts: Array(repeating: 1, count: comm.size))
            let pairs = try counts.enumerated().map { r, c -> Int in
                guard c >= 0, c <= Float(shard.vocabPlan[r].count), c == c.rounded() else {
                    throw ProtocolError(layer: nil, step: "pick", problem: "rank \(r) sends \(c) candidates, expected " +
                                        "0...\(shard.vocabPlan[r].count)")
                }
                return 2 * Int(c)
            }
            var send = [Float](repeating: 0, count: max(1, 2 * mine.count))
            for (k, c) in mine.enumerated() { send[2 * k] = Float(c.1); send[2 * k + 1] = c.0 }
            try comm.gatherv(send, count: 2 * mine.count, into: comm.isRoot ? candidates : nil, counts: pairs, root: 0)
            guard comm.isRoot else { return Picked() }
            let all = pairs.reduce(0, +) / 2
            var list: [(Float, Int)] = []
            list.reserveCapacity(all)
            for k in 0..<all {
                let id = candidates[2 * k], p = candidates[2 * k + 1]
                guard id >= 0, id < Float(config.vocab), p.isFinite, p >= 0 else {
                    throw ProtocolError(layer: nil, step: "pick", problem: "candidate \(k) is token \(id), p \(p)")
                }
                list.append((p, Int(id)))
            }
            return Picked(candidates: list, total: total)
        case nil:
            throw ProtocolError(layer: nil, step: "pick", problem: "unknown pick from rank 0")
        }
    }
}
