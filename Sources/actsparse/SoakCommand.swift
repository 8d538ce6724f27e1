import ActSparse
import ActSparseDistributed
import ArgumentParser
import Foundation

/// Many tokens in one process: several prompts in turn, the context reused (reset per prompt), every rank's
/// resident memory sampled as it goes. Fails unless memory is flat after warm-up.
struct SoakCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "soak",
        abstract: "Generates many tokens (prompts in turn, context reused) and checks every rank's memory stays flat.",
        discussion: "Each rank samples its anonymous resident memory (RssAnon) every --sample-every decode tokens; after "
            + "--warmup tokens the first sample is the baseline, and the run fails (exit 1) if any later sample of "
            + "any rank exceeds it by more than --max-growth percent. launch/soak runs the long version.")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var sparsityOptions: SparsityOptions
    @OptionGroup var threadOptions: ThreadOptions
    @OptionGroup var commOptions: CommOptions
    @Option(help: "Decode tokens in total.") var tokens = 10_000
    @Option(help: "Tokens per prompt before the next prompt (and a fresh context).") var perPrompt = 250
    @Option(help: "Sample RSS every this many decode tokens.") var sampleEvery = 500
    @Option(help: "Tokens before the baseline sample (default: one full cycle of the prompts, --per-prompt × 6).")
    var warmup: Int?
    @Option(help: "Largest allowed RSS growth over the baseline, percent.") var maxGrowth = 1.0

    static let prompts = [
        "The capital of France is", "Once upon a time, in a small village,", "def fibonacci(n):",
        "The three laws of thermodynamics are", "Write a short poem about the sea.", "1, 1, 2, 3, 5, 8,",
    ]

    /// What every rank must share (compared before the first collective).
    var settings: JobSettings {
        var s = JobSettings(command: "soak")
        s.add(modelOptions)
        s.add(sparsityOptions, model: modelOptions.model)
        s.add("--tokens", tokens)
        s.add("--per-prompt", perPrompt)
        s.add("--sample-every", sampleEvery)
        return s
    }

    func run() throws {
        try withWorld(commOptions, settings: settings) { comm in
            try agreeOnConfiguration(comm) {
                if let p = outside("--tokens", tokens, 1...(1 << 30)) ?? outside("--per-prompt", perPrompt, 1...(1 << 20))
                    ?? outside("--sample-every", sampleEvery, 1...(1 << 30)) ?? outside("--warmup", warmup ?? 0, 0...(1 << 30)) {
                    return p
                }
                if !(maxGrowth >= 0) { return "--max-growth must be ≥ 0" }
                return sparsityOptions.problem() ?? commOptions.problem() ?? modelOptions.problem()
            }
            let llm = try DistributedLlama(comm: comm, path: modelOptions.model, mode: modelOptions.mode, scope: modelOptions.shard,
                                           threads: threadOptions.resolved, context: modelOptions.context, kv: modelOptions.kv, activations: modelOptions.activations,
                                           stepTimeout: commOptions.resolved, progress: TerminalProgress.handler)
            var rss = RSSSampler(every: sampleEvery, warmup: warmup ?? perPrompt * SoakCommand.prompts.count)
            if let model = llm.model {
                try drive(llm, model, &rss)
                try llm.stop()
            } else {
                try llm.follow { rss.tick() }
            }
            // Every rank's worst growth to rank 0.
            var mine: [Float] = [Float(rss.growthPercent), Float(rss.baselineMB), Float(rss.samples.last ?? 0)]
            var all = [Float](repeating: 0, count: 3 * comm.size)
            try comm.gatherv(&mine, count: 3, into: &all, counts: Array(repeating: 3, count: comm.size), root: 0)
            guard comm.isRoot else { return }
            var worst = 0.0
            for r in 0..<comm.size {
                let g = Double(all[3 * r])
                worst = max(worst, g)
                print("rank \(r): RSS \(f(Double(all[3 * r + 1]), 1)) MB after warm-up → \(f(Double(all[3 * r + 2]), 1)) MB "
                    + "at the end: growth \(f(g, 2)) %")
            }
            print("soak: \(rss.ticks) tokens on \(comm.size) rank(s), worst RSS growth after warm-up \(f(worst, 2)) % "
                + "(limit \(f(maxGrowth, 2)) %)")
            if worst > maxGrowth {
                FileHandle.standardError.write(Data("actsparse: soak: RSS grew \(f(worst, 2)) % > \(f(maxGrowth, 2)) %\n".utf8))
                throw ExitCode(1)
            }
        }
    }

    func drive(_ llm: DistributedLlama, _ model: LlamaModel, _ rss: inout RSSSampler) throws {
        let table = try sparsityOptions.table(model: modelOptions.model, config: llm.config, bytes: llm.gguf.size)
        try llm.setThresholds(table, gateUp: sparsityOptions.gateUp, down: sparsityOptions.down)
        var done = 0, k = 0
        let t0 = Timing.now()
        while done < tokens {
            let ids = model.tokenizer.encode(SoakCommand.prompts[k % SoakCommand.prompts.count])
            model.reset()
            var sampler = Sampler(temperature: 0.8, topP: 0.95, seed: UInt64(k + 1))
            var logits = try llm.prefill(ids)
            var n = 0
            while n < perPrompt && done < tokens && llm.contextLeft > 0 {
                let next = try sampler.sample(logits, count: model.config.vocab)
                logits = try llm.decode(next)
                _ = model.tokenizer.decode([next])  // as streaming output does: its memory counts too
                n += 1
                done += 1
                rss.tick()
                if done % rss.every == 0 {
                    print("tokens \(done): RSS \(f(rss.samples.last ?? 0, 1)) MB, "
                        + "\(f(Double(done) / (Double(Timing.now() - t0) * 1e-9), 1)) tokens/s")
                    fflush(nil)  // all output streams: stdout without touching the C global
                }
            }
            k += 1
        }
    }
}

/// Resident memory (MB) every `every` ticks; growth of the worst later sample over the first one after warm-up.
struct RSSSampler {
    let every: Int, warmup: Int
    private(set) var ticks = 0
    private(set) var samples: [Double] = []
    private(set) var baselineMB = 0.0
    private(set) var growthPercent = 0.0

    init(every: Int, warmup: Int) { self.every = every; self.warmup = warmup }

    /// Anonymous resident memory (RssAnon of /proc/self/status), MB: heap, scratch, KV cache, repacked weights.
    /// File-backed pages are left out: rows of the mmap'd embedding table join the RSS as new tokens are first
    /// seen (bounded by the table's size), which is not growth of the process's own memory.
    static func residentMB() -> Double { Memory.status("RssAnon") / 1e6 }

    mutating func tick() {
        ticks += 1
        guard ticks % every == 0 else { return }
        let mb = RSSSampler.residentMB()
        samples.append(mb)
        if ticks >= warmup {
            if baselineMB == 0 { baselineMB = mb }
            growthPercent = max(growthPercent, (mb / baselineMB - 1) * 100)
        }
    }
}
