import ActSparse

extension DistributedLlama {
    /// Greedy continuations of `prompts` under the current thresholds (prefill dense, decode sparse, as generation
    /// runs): `tokens` each, fewer where the model ends its text. Each prompt starts a new sequence. Rank 0.
    public func greedyContinuations(_ prompts: [[Int32]], tokens: Int) throws -> [[Int32]] {
        let model = try requireRoot()
        let eos = model.tokenizer.eos
        return try prompts.map { prompt in
            model.reset()
            var sampler = Sampler()
            var next = try prefill(prompt, sampler: &sampler), out: [Int32] = []
            while out.count < tokens && next != eos {
                out.append(next)
                if out.count < tokens && contextLeft > 0 { next = try decode(next, sampler: &sampler) } else { break }
            }
            return out
        }
    }
}
