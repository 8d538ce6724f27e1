import ActSparse

extension Calibration {
    /// What a calibration will do, in tokens and weight bytes streamed, and, once its first chunk has run, about how
    /// long it will take at most. Every stage is prefill-shaped work, so one measured prefill speed prices them all:
    /// the probe runs one dense GEMM per target and FC over its tokens (≈ a prefill per target), a scoring is a
    /// prefill of the held-out tokens plus the LM head on every row. The greedy paths' scorings are a bound (the
    /// search usually stops earlier: the progress bar's ETA follows what it does).
    public struct Cost: Sendable, CustomStringConvertible {
        /// [chunk] tokens of step 1
        public var chunks: [Int]
        public var probeChunks: Int, probeTokens: Int, targets: Int
        /// held-out tokens per register
        public var heldOut: [Int]
        /// scorings at most (dense, the uniform path, both greedy paths' bounds, the budget's bisection)
        public var scorings: Int
        /// generated tokens of the free-running check at most (dense and up to `maxChecks` plans)
        public var checkTokens: Int
        public var weightBytes: Int
        /// LM head FLOPs per token over the rest's (a scoring computes it on every row)
        public var headShare: Double
        /// Set after the first chunk.
        public var prefillTokensPerSecond: Double?

        init(table: ThresholdTable, chunks: [Int], probeTokens: Int, chunk: Int, heldOut: [Int], budget: Double?,
             checkTokens: Int, weightBytes: Int, headShare: Double) {
            self.chunks = chunks
            probeChunks = probeTokens > 0 ? max(1, min(chunks.count, (probeTokens + chunk - 1) / chunk)) : 0
            self.probeTokens = chunks.prefix(probeChunks).reduce(0, +)
            targets = table.targets.count
            self.heldOut = heldOut
            let zero = [0.0, 0, 0, 0], all = SparsitySite.allCases
            scorings = heldOut.isEmpty ? 0 : 1 + 7
                + table.greedyMeasurements(kinds: all, from: zero, maxByteSparsity: 0.8)
                + table.greedyMeasurements(kinds: [.gateUp, .down], from: zero, maxByteSparsity: 0.8) + (budget == nil ? 0 : 3)
            self.checkTokens = budget == nil || heldOut.isEmpty ? 0
                : (1 + Calibration.maxChecks) * heldOut.count * (checkTokens + Calibration.Options.checkPrompt)
            self.weightBytes = weightBytes
            self.headShare = headShare
        }

        public var quantileTokens: Int { chunks.reduce(0, +) }
        /// Prefill-equivalent tokens of each stage: quantiles, output errors, held-out scorings.
        public var stageTokens: (quantiles: Double, probe: Double, scoring: Double) {
            (Double(quantileTokens), Double(probeTokens * (targets + 1)),
             Double(scorings) * Double(heldOut.reduce(0, +)) * (1 + headShare))
        }

        /// Seconds at most for the three prefill stages at the measured speed (nil before it is measured).
        public var seconds: Double? {
            guard let r = prefillTokensPerSecond, r > 0 else { return nil }
            let s = stageTokens
            return (s.quantiles + s.probe + s.scoring) / r
        }

        public var description: String {
            let s = stageTokens, all = s.quantiles + s.probe + s.scoring
            var d = "cost: quantiles \(quantileTokens) tokens in \(chunks.count) chunks; output errors \(probeTokens) "
                + "tokens × \(targets) targets; held-out ≤ \(scorings) scorings × \(heldOut.reduce(0, +)) tokens in "
                + "\(heldOut.count) registers"
                + (checkTokens > 0 ? "; free-running check ≤ \(checkTokens) tokens" : "")
                + String(format: " — ≈ %.0f prefill tokens × %.0f MB of weights", all, Double(weightBytes) / 1e6)
            if let sec = seconds, let r = prefillTokensPerSecond {
                d += String(format: "; at %.0f tokens/s (first chunk) at most about %.0f s", r, sec)
            }
            return d
        }
    }
}
