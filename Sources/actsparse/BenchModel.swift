import ActSparse
import ActSparseDistributed
import ActSparseTools
import ArgumentParser
import Foundation

/// `actsparse bench model`: whole-model decode speed, dense and sparse, with each block's effective GB/s against
/// a read probe measured in the same run.
struct BenchModel: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Whole-model decode: tokens/s dense and sparse, per block effective GB/s against a read probe.",
        discussion: """
            One process, or under mpirun one rank per process (--shard model: each rank holds 1/N of the whole \
            model). For each thread count the model is loaded once and a read probe runs with that many threads \
            (on every rank at once: the job's aggregate read bandwidth); then, per sparsity, the same token sequence (greedy at dense, fed unchanged to every \
            sparsity) is decoded --tokens times after a prompt of --position tokens, --repeats times (median). \
            Blocks: attention (q/k/v/o projections + attention), MLP, LM head; GB/s = bytes read / block time \
            (attention counts its projections and the KV cache it reads), summed over ranks for the total; \
            KV ms / %tok: the attention block's part over the KV cache and its share of the token's time. \
            Sparsity > 0 needs calibrated thresholds (--thresholds, or the cached file for the model).
            """)

    @Option(help: "GGUF model file, or a name: smollm2 (default unless ACTSPARSE_MODEL is set), gemma3-270m.")
    var model: String = ModelCache.defaultModel
    @Option(help: "Thread counts (comma list).") var threads: CommaList<Int> = [1, 2]
    @Option(help: "Target sparsities (comma list; 0 = dense): the MLP's inputs, or every thresholded input with --scope model.")
    var sparsity: CommaList<Double> = [0, 0.5, 0.7]
    @Option(help: SparsityScope.help) var scope: SparsityScope = .mlp
    @Option(help: "Decoded tokens per measurement.") var tokens = 16
    @Option(help: "Measurements per row (median reported).") var repeats = 3
    @Option(help: "Thresholds file (default: the cached one for the model).") var thresholds: String?
    @Option(help: "Decode from this position: the prompt is a text repeated to this many tokens (attention's share grows with it).")
    var position = 8
    @Option(help: "KV cache length (default: position + tokens + 1).") var context: Int?
    @Option(help: "KV cache precision: f16, f32 or q8_0.") var kv: KVCache.Precision = .f16
    @Option(help: "Activations of the decode kernels: int8 (integer dot products) or f32 (exact).") var activations: ActivationPrecision = .int8
    @Option(help: "Under mpirun: what the ranks share, model or mlp.") var shard: DistributedLlama.Scope = .model
    @Option(help: "Under mpirun: gather or reduce.") var mode: DistributedMLP.Mode = .reduce
    @Flag(help: "CSV instead of a table.") var csv = false
    @OptionGroup var commOptions: CommOptions

    mutating func validate() throws { model = try ModelCache.resolve(model) }

    /// What every rank must share: the measurement grid and the model settings (every rank runs every row).
    var settings: JobSettings {
        var s = JobSettings(command: "bench model")
        s.add("--threads", threads.values.map(String.init).joined(separator: ","))
        s.add("--sparsity", sparsity.values.map { "\($0)" }.joined(separator: ","))
        s.add("--scope", scope.rawValue); s.add("--tokens", tokens); s.add("--repeats", repeats)
        s.add("--position", position); s.add("--context", context.map { "\($0)" } ?? "-")
        s.add("--kv", kv.rawValue); s.add("--activations", activations.rawValue)
        s.add("--shard", shard.rawValue); s.add("--mode", mode.rawValue)
        s.addThresholds(thresholds ?? ModelCache.defaultThresholds(for: model))
        return s
    }

    func run() throws {
        let threadList = threads.values, sparsities = sparsity.values
        for t in threadList where !(1...4096).contains(t) { throw ValidationError("--threads \(t) not in 1...4096") }
        for s in sparsities where !(0..<1).contains(s) { throw ValidationError("--sparsity \(s) not in 0..<1") }
        guard (1...4096).contains(tokens), (1...100).contains(repeats), (1...(1 << 20)).contains(position),
              (context ?? 16) >= 16, (context ?? 0) <= 1 << 20 else {
            throw ValidationError("--tokens 1...4096, --repeats 1...100, --position 1...1048576, --context 16...1048576")
        }
        try withWorld(commOptions, settings: settings) { comm in
            try agreeOnConfiguration(comm) {
                do { _ = try LlamaConfig(gguf: try GGUFFile(path: model)) } catch { return "\(error)" }
                return commOptions.problem()
            }
            try bench(comm, threadList, sparsities)
        }
    }

    struct Row {
        var ranks = 1, commMs = 0.0, collectives = 0.0, messageKB = 0.0
        var threads = 0, sparsity = 0.0, tokensPerSecond = 0.0, speedup = 1.0, read = 0.0
        var attention = (ms: 0.0, gbps: 0.0), mlp = (ms: 0.0, gbps: 0.0), head = (ms: 0.0, gbps: 0.0)
        var total = 0.0, realized = (0.0, 0.0), realizedAttention = (0.0, 0.0), rssMB = 0.0
        /// Attention over the KV cache: ms per token and % of the token's time
        var cache = (ms: 0.0, percent: 0.0)
        /// Bytes one token reads, all ranks together (MB)
        var bytesMB = 0.0
    }

    func bench(_ comm: Communicator, _ threadList: [Int], _ sparsities: [Double]) throws {
        var rows: [Row] = []
        for t in threadList {
            // The job's read bandwidth: every rank probes at once (512 MiB in all, ≫ any L3, at least 64 MiB
            // each; filled first, then a barrier, so the timed passes overlap), summed on rank 0; the probe's
            // memory is freed before the model loads.
            var mine: Float = try {
                let probe = try ReadBandwidth(bytes: max(64 << 20, (512 << 20) / comm.size))
                try comm.barrier()
                return Float(probe.measure(threads: t))
            }()
            var all = [Float](repeating: 0, count: comm.size)
            try comm.gatherv(&mine, count: 1, into: &all, counts: Array(repeating: 1, count: comm.size), root: 0)
            let llm = try DistributedLlama(comm: comm, path: model, mode: mode, scope: shard, threads: t,
                                           context: context ?? max(16, position + tokens + 1), kv: kv,
                                           activations: activations,
                                           stepTimeout: commOptions.resolved, progress: TerminalProgress.handler)
            guard let m = llm.model else {
                try llm.follow()
                continue
            }
            BenchModel.kernels = m.kernelSummary
            var table: ThresholdTable?
            if sparsities.contains(where: { $0 > 0 }) {
                let path = thresholds ?? ModelCache.defaultThresholds(for: model)
                guard FileManager.default.fileExists(atPath: path) else {
                    throw ActSparseError.file(path: path, problem: "no thresholds: run `actsparse calibrate --model \(model)`")
                }
                let tt = try ThresholdTable.load(path)
                try tt.check(against: llm.config, modelBytes: llm.gguf.size, path: path)
                table = tt
            }
            let read = Double(all.reduce(0, +))
            let text = "The history of the city begins in the marshes by the river, where fishermen built huts on stilts "
                + "and traders stopped on their way between the hills and the sea. "
            var prompt = m.tokenizer.encode(text)
            while prompt.count < position { prompt += m.tokenizer.encodeText(text, specials: false) }
            prompt = Array(prompt.prefix(position))
            let budget = min(tokens, m.config.context - prompt.count - 1)
            guard budget > 0 else { throw ValidationError("--context too small for --position and --tokens") }
            // The token sequence: greedy at dense, then fed unchanged to every sparsity.
            try llm.setThresholds(nil, gateUp: 0, down: 0)
            m.reset()
            var logits = try llm.prefill(prompt)
            var sequence: [Int32] = []
            for _ in 0..<budget {
                let next = Int32((0..<m.config.vocab).max { logits[$0] < logits[$1] }!)
                sequence.append(next)
                logits = try llm.decode(next)
            }
            var denseRate = 0.0
            for s in sparsities {
                try llm.setPlan(scope.plan(layers: llm.config.layers, gateUp: s, down: s, attention: s), table: s > 0 ? table : nil)
                var rates: [Double] = [], splits: [(Double, Double, Double, Double)] = []
                var traffic: [(Double, Double, Double)] = [], reports: [[DistributedLlama.RankReport]] = []
                for _ in 0..<repeats {
                    m.reset()
                    _ = try llm.prefill(prompt)
                    _ = try llm.report()  // every rank's byte counts start here (outside the timed steps)
                    llm.resetStats()
                    m.decodeNanos = (0, 0, 0, 0)
                    // The next token from the vocabulary slices' argmax (no whole-logits gather), then dropped:
                    // the sequence is fixed.
                    var sampler = Sampler()
                    let seconds = try Timing.seconds { for tok in sequence { _ = try llm.decode(tok, sampler: &sampler) } }
                    rates.append(Double(sequence.count) / seconds)
                    let n = Double(sequence.count)
                    splits.append((Double(m.decodeNanos.attention) / n, Double(m.decodeNanos.mlp) / n,
                                   Double(m.decodeNanos.head) / n, Double(m.decodeNanos.cache) / n))
                    traffic.append((Double(llm.commNanos) / 1e6 / n, Double(llm.traffic.collectives) / n,
                                    Double(llm.traffic.bytes) / 1e3 / n))
                    reports.append(try llm.report())
                }
                let median = rates.indices.sorted { rates[$0] < rates[$1] }[rates.count / 2]
                let (aNs, mNs, hNs, cNs) = splits[median]
                var r = Row()
                r.ranks = comm.size
                (r.commMs, r.collectives, r.messageKB) = traffic[median]
                r.threads = t; r.sparsity = s; r.tokensPerSecond = rates[median]; r.read = read
                if s == 0 { denseRate = rates[median] }
                r.speedup = denseRate > 0 ? rates[median] / denseRate : .nan
                // Attention reads its projections and the cached keys and values (at the middle position).
                let mid = prompt.count + sequence.count / 2, c = llm.config
                // Every rank's bytes per token (each reads its own slices; the time is rank 0's, the slowest
                // rank's share of the token shows up in its collectives). KV: mean cached positions per layer.
                let ranks = reports[median], n = Double(sequence.count)
                var cached = 0.0
                for l in 0..<c.layers { cached += Double(c.isLocal(l) ? min(mid + 1, c.window) : mid + 1) }
                cached /= Double(max(1, c.layers))
                // Attention projections read the kept rows only (model scope): scale by rank 0's kept share.
                let (ra, ro) = m.realizedAttentionSparsity
                var qkv = 0.0, o = 0.0
                for l in 0..<c.layers {
                    qkv += m.fcs(layer: l, site: .attention).reduce(0) { $0 + Double($1.weights.bytes) }
                    o += m.fcs(layer: l, site: .output).reduce(0) { $0 + Double($1.weights.bytes) }
                }
                let keptShare = qkv + o > 0 ? (qkv * (1 - ra) + o * (1 - ro)) / (qkv + o) : 1
                let aBytes = ranks.map { $0.attentionWeightBytes * keptShare + $0.kvBytesPerPosition * cached }.reduce(0, +)
                let hBytes = ranks.map(\.headWeightBytes).reduce(0, +)
                let mlpBytes = ranks.map(\.mlpBytesRead).reduce(0, +) / n
                r.attention = (aNs / 1e6, aBytes / aNs); r.mlp = (mNs / 1e6, mlpBytes / mNs); r.head = (hNs / 1e6, hBytes / hNs)
                r.total = (aBytes + mlpBytes + hBytes) / (aNs + mNs + hNs)
                // Attention over the cache (part of the attention block) against the whole token.
                r.cache = (cNs / 1e6, 100 * cNs * rates[median] / 1e9)
                r.bytesMB = (aBytes + mlpBytes + hBytes) / 1e6
                r.realized = llm.realizedSparsity
                r.realizedAttention = (ra, ro)
                r.rssMB = (ranks.map(\.resident).max() ?? 0) / 1e6  // now, not the peak: the probe's buffer is gone
                rows.append(r)
                report(r, header: rows.count == 1)
            }
            try llm.stop()  // only on success: after a failure withWorld aborts the job
        }
    }

    /// The loaded model's kernels (what runs, not what was asked for), set once the model is loaded.
    nonisolated(unsafe) static var kernels = ""
    var kernelLine: String { BenchModel.kernels }

    func report(_ r: Row, header: Bool) {
        func pct(_ g: Double) -> String { f(100 * g / r.read, 0) }
        if csv {
            if header {
                print("model,ranks,shard,mode,threads,position,kv,activations,sparsity,tokens_per_s,speedup_vs_dense,read_gbps,attention_ms,attention_gbps,"
                      + "mlp_ms,mlp_gbps,head_ms,head_gbps,total_gbps,realized_gate_up,realized_down,rss_mb_max_rank,"
                      + "comm_ms,collectives_per_token,message_kb_per_token,mb_read_per_token,cache_ms,cache_pct_of_token,scope,"
                      + "realized_attention,realized_output,isa")
            }
            print([URL(fileURLWithPath: model).lastPathComponent, "\(r.ranks)", r.ranks > 1 ? shard.rawValue : "-",
                   r.ranks > 1 ? mode.rawValue : "-", "\(r.threads)", "\(position)", kv.rawValue, activations.rawValue, f(r.sparsity, 2), f(r.tokensPerSecond, 2),
                   f(r.speedup, 3), f(r.read, 1), f(r.attention.ms, 2), f(r.attention.gbps, 1), f(r.mlp.ms, 2),
                   f(r.mlp.gbps, 1), f(r.head.ms, 2), f(r.head.gbps, 1), f(r.total, 1), f(r.realized.0, 3),
                   f(r.realized.1, 3), f(r.rssMB, 0), f(r.commMs, 3), f(r.collectives, 1), f(r.messageKB, 1), f(r.bytesMB, 1),
                   f(r.cache.ms, 2), f(r.cache.percent, 1), scope.rawValue, f(r.realizedAttention.0, 3),
                   f(r.realizedAttention.1, 3), KernelISA.active.name].joined(separator: ","))
        } else {
            if header {
                print("kernels: \(kernelLine)")
                print("thr spars  tok/s  ×dense  read   attention ms GB/s %read   MLP ms GB/s %read   head ms GB/s %read   all GB/s %read  realized  RSS MB   KV ms %tok" + (scope == .model ? "  attn/out" : ""))
            }
            print(String(format: "%3d  %.2f %6.2f  %5.2f  %5.1f   %8.2f %5.1f %4@   %6.2f %5.1f %4@   %6.2f %5.1f %4@   %6.1f %4@   %.2f/%.2f %6.0f  %6.2f %4.1f",
                         r.threads, r.sparsity, r.tokensPerSecond, r.speedup, r.read, r.attention.ms, r.attention.gbps,
                         pct(r.attention.gbps), r.mlp.ms, r.mlp.gbps, pct(r.mlp.gbps), r.head.ms, r.head.gbps,
                         pct(r.head.gbps), r.total, pct(r.total), r.realized.0, r.realized.1, r.rssMB,
                         r.cache.ms, r.cache.percent)
                  + (scope == .model ? String(format: "  %.2f/%.2f", r.realizedAttention.0, r.realizedAttention.1) : ""))
        }
    }
}
