import ActSparse

extension Calibration {
    /// What a calibration will do, in tokens and weight bytes streamed, and, once its second chunk has run, about how
    /// long it will take: likely and at most. One measured prefill speed prices every stage: the probe runs one
    /// dense GEMM per target and FC over its tokens (≈ a prefill per target), a scoring is a prefill of the held-out
    /// tokens plus the LM head on every row, a generated token of the free-running check costs `decodeCost` prefill
    /// tokens. Likely: the lazy greedy paths measure about one kind per step, and the check runs dense and
    /// `likelyChecks` plans; at most: every kind at every step and `maxChecks` plans (the progress bar's ETA then
    /// follows what the search does).
    public struct Cost: Sendable, CustomStringConvertible {
        /// [chunk] tokens of step 1
        public var chunks: [Int]
        public var probeChunks: Int, probeTokens: Int, targets: Int
        /// held-out tokens per register
        public var heldOut: [Int]
        /// scorings at most (dense, the uniform path, both greedy paths' bounds, the budget's bisection)
        public var scorings: Int
        /// scorings the lazy greedy paths likely need (one kind per step, every kind at the first)
        public var likelyScorings: Int
        /// generated tokens of the free-running check at most (dense and up to `maxChecks` plans)
        public var checkTokens: Int
        /// generated tokens of the check, likely (dense and `likelyChecks` plans)
        public var likelyCheckTokens: Int
        public var weightBytes: Int
        /// LM head FLOPs per token over the rest's (a scoring computes it on every row)
        public var headShare: Double
        /// Set after the second chunk (the first if there is one).
        public var prefillTokensPerSecond: Double?

        init(table: ThresholdTable, chunks: [Int], probeTokens: Int, chunk: Int, heldOut: [Int], budget: Double?,
             checkTokens: Int, weightBytes: Int, headShare: Double) {
            self.chunks = chunks
            probeChunks = probeTokens > 0 ? max(1, min(chunks.count, (probeTokens + chunk - 1) / chunk)) : 0
            self.probeTokens = chunks.prefix(probeChunks).reduce(0, +)
            targets = table.targets.count
            self.heldOut = heldOut
            let zero = [0.0, 0, 0, 0], all = SparsitySite.allCases
            let mlp: [SparsitySite] = [.gateUp, .down], bisection = budget == nil ? 0 : 3
            scorings = heldOut.isEmpty ? 0 : 1 + 7
                + table.greedyMeasurements(kinds: all, from: zero, maxByteSparsity: 0.8)
                + table.greedyMeasurements(kinds: mlp, from: zero, maxByteSparsity: 0.8) + bisection
            likelyScorings = heldOut.isEmpty ? 0 : 1 + 7
                + table.greedySteps(kinds: all, from: zero, maxByteSparsity: 0.8) + all.count - 1
                + table.greedySteps(kinds: mlp, from: zero, maxByteSparsity: 0.8) + mlp.count - 1 + bisection
            let perPlan = heldOut.count * Calibration.Options.checkOpenings * (checkTokens + Calibration.Options.checkPrompt)
            self.checkTokens = budget == nil || heldOut.isEmpty ? 0 : (1 + Calibration.maxChecks) * perPlan
            likelyCheckTokens = budget == nil || heldOut.isEmpty ? 0 : (1 + Cost.likelyChecks) * perPlan
            self.weightBytes = weightBytes
            self.headShare = headShare
        }

        /// Plans the check likely runs besides dense (the budget's pick and, as often as not, one after it).
        static let likelyChecks = 2
        /// Prefill tokens one generated token costs (a decode step streams every weight for one row: 2.8× a prefill
        /// row on SmolLM2, 2 cores).
        static let decodeCost = 3.0

        public var quantileTokens: Int { chunks.reduce(0, +) }
        /// Prefill-equivalent tokens of each stage: quantiles, output errors, held-out scorings, the check.
        public func stageTokens(likely: Bool = false) -> (quantiles: Double, probe: Double, scoring: Double, check: Double) {
            (Double(quantileTokens), Double(probeTokens * (targets + 1)),
             Double(likely ? likelyScorings : scorings) * Double(heldOut.reduce(0, +)) * (1 + headShare),
             Double(likely ? likelyCheckTokens : checkTokens) * Cost.decodeCost)
        }

        /// Seconds for every stage at the measured speed, likely or at most (nil before it is measured).
        public func seconds(likely: Bool = false) -> Double? {
            guard let r = prefillTokensPerSecond, r > 0 else { return nil }
            let s = stageTokens(likely: likely)
            return (s.quantiles + s.probe + s.scoring + s.check) / r
        }

        public var description: String {
            let s = stageTokens(likely: true), all = s.quantiles + s.probe + s.scoring + s.check
            var d = "cost: quantiles \(quantileTokens) tokens in \(chunks.count) chunks; output errors \(probeTokens) "
                + "tokens × \(targets) targets; held-out ≈ \(likelyScorings) (≤ \(scorings)) scorings × "
                + "\(heldOut.reduce(0, +)) tokens in \(heldOut.count) registers"
                + (checkTokens > 0 ? "; free-running check ≈ \(likelyCheckTokens) (≤ \(checkTokens)) tokens" : "")
                + String(format: " — ≈ %.0f prefill tokens × %.0f MB of weights", all, Double(weightBytes) / 1e6)
            if let likely = seconds(likely: true), let most = seconds(), let r = prefillTokensPerSecond {
                d += String(format: "; at %.0f tokens/s (a chunk's prefill) about %.0f s, at most %.0f s", r, likely, most)
            }
            return d
        }
    }
}
