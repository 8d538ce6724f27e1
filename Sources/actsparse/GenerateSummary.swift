import ActSparse
import ActSparseDistributed
import ActSparseGeneration
import Foundation

/// What `generate` reports after the text: lines on standard error, or one JSON object (`--json`).
struct GenerateSummary {
    let llm: DistributedLlama
    let model: LlamaModel
    let plan: SparsityPlan
    let run: GenerationResult
    /// Per decode step, ms: [attention, MLP, LM head]
    let split: [Double]
    /// Rank 0's communication per decode step and the traffic over all of them.
    let comm: (us: Double, traffic: (collectives: Int, bytes: Int))
    /// Median decode tokens/s (--compare-dense).
    let speed: (sparse: Double, dense: Double)?
    let coldMs: Double?
    let loadSeconds: Double
    let checksum: String?
    let repeats: Int
    let threads: Int
    let mode: DistributedMLP.Mode

    var usage: GenerationUsage { run.usage }
    var ranks: Int { llm.comm.size }
    var realized: [Double]? { usage.decodeSteps > 0 ? usage.realizedSparsity : nil }
    static func sites(_ v: [Double]) -> String { v.map { f($0, 2) }.joined(separator: "/") }

    /// Thresholds calibrated on other text (or a synthetic model) can miss the target badly.
    var missesTarget: Bool {
        guard let realized, !plan.isDense else { return false }
        return zip(plan.layerMeans, realized).contains { abs($0 - $1) > 0.05 }
    }

    func lines() throws -> [String] {
        var lines = ["prompt tokens \(usage.promptTokens), prefill \(f(usage.prefillSeconds * 1e3, 1)) ms; generated "
            + "\(usage.completionTokens) tokens (\(run.finishReason.rawValue)); "
            + (ranks > 1 ? "\(ranks) rank(s) × \(threads) thread(s), shard \(llm.scope.rawValue), mode \(mode.rawValue)"
                + (llm.scope == .model ? " (rank 0: \(model.shard))" : "")
                : "\(threads) thread(s)"),
            "decode \(f(usage.tokensPerSecond, 1)) tokens/s, sparsity: \(plan.label)",
            "kernels: \(model.kernelSummary)",
            "target sparsity (attention/output/gate-up/down, layer means) \(Self.sites(plan.layerMeans)); realized "
                + (realized.map(Self.sites) ?? "- (no decode step)")]
        if missesTarget, let realized {
            lines.append("warning: realized sparsity \(Self.sites(realized)) is more than 5 points from the target "
                + "\(Self.sites(plan.layerMeans)): recalibrate (`actsparse calibrate`) on text like this prompt")
        }
        if let speed {
            lines.append("median of \(repeats) interleaved runs: sparse \(f(speed.sparse, 1)) tokens/s, dense "
                + "\(f(speed.dense, 1)) tokens/s: sparse speed-up \(f(speed.sparse / max(speed.dense, 1e-9), 2))×")
        }
        lines.append("per token: attention \(f(split[0], 2)) ms, MLP \(f(split[1], 2)) ms, LM head \(f(split[2], 2)) ms")
        if let checksum { lines.append("logits checksum \(checksum) (prefill's last row and every decode step)") }
        if let coldMs { lines.append("first (cold) prefill \(f(coldMs, 1)) ms; the prefills above are warm") }
        if ranks > 1 {
            let steps = Double(max(1, usage.decodeSteps)), layers = Double(llm.config.layers)
            lines.append("communication \(f(comm.us, 1)) µs/token (rank 0, all layers, "
                + "\(f(100 * comm.us * 1e-6 * usage.tokensPerSecond, 1)) % of the token); per token "
                + "\(f(Double(comm.traffic.collectives) / steps, 1)) collectives (\(f(Double(comm.traffic.collectives) / steps / layers, 2)) "
                + "per layer), \(f(Double(comm.traffic.bytes) / steps / 1e3, 1)) kB "
                + "(\(f(Double(comm.traffic.bytes) / steps / layers / 1e3, 2)) kB per layer)")
        }
        let mb = Double(llm.gguf.size) / 1e6
        lines.append("load \(f(loadSeconds, 2)) s (\(f(mb / max(loadSeconds, 1e-9), 0)) MB/s of a \(f(mb, 0)) MB file"
            + (ranks > 1 ? ", every rank ready); peak RSS per rank " : "); peak RSS ")
            + (try llm.peakResidentPerRank()).map { f($0 / 1e6, 0) }.joined(separator: ", ") + " MB")
        return lines
    }

    /// One object: the text, why it ended, usage and timing, sparsity, speeds.
    func json(text: String, model name: String) throws -> Data {
        var o: [String: Any] = [
            "model": name, "text": text, "finish_reason": run.finishReason.rawValue,
            "prompt_tokens": usage.promptTokens, "completion_tokens": usage.completionTokens,
            "prefill_ms": usage.prefillSeconds * 1e3, "decode_tokens_per_s": usage.tokensPerSecond,
            "sparsity": plan.label, "target_sparsity": plan.layerMeans, "realized_sparsity": realized ?? NSNull(),
            "kernels": model.kernelSummary, "ranks": ranks, "threads": threads,
            "per_token_ms": ["attention": split[0], "mlp": split[1], "head": split[2]],
            "load_s": loadSeconds,
            "peak_rss_mb": try llm.peakResidentPerRank().map { $0 / 1e6 },
        ]
        if let speed {
            o["compare_dense"] = ["repeats": repeats, "sparse_tokens_per_s": speed.sparse, "dense_tokens_per_s": speed.dense,
                                  "speedup": speed.sparse / max(speed.dense, 1e-9)]
        }
        if ranks > 1 { o["communication_us_per_token"] = comm.us }
        if let checksum { o["logits_checksum"] = checksum }
        return try JSONSerialization.data(withJSONObject: o, options: [.sortedKeys])
    }
}
