import ActSparse
import ActSparseDistributed
import ArgumentParser
import Foundation

struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Generates text with sparse decode (dense prefill), alone or under launch/mpirun.",
        discussion: "Streams the text, then a summary: prompt tokens, prefill ms, decode tokens/s sparse vs dense, "
            + "realized sparsity, communication per token. By default the sparsity is the quality budget's "
            + "(--budget, ΔNLL measured by `actsparse calibrate`); a --sparsity option sets uniform MLP sparsity instead.")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var sparsityOptions: SparsityOptions
    @OptionGroup var threadOptions: ThreadOptions
    @OptionGroup var commOptions: CommOptions
    @Option(help: "Prompt text (raw completion unless --chat).") var prompt = "The capital of France is"
    @Option(help: "Tokens to generate.") var tokens = 32
    @Flag(help: "Apply the model's chat template to the prompt.") var chat = false
    @Flag(help: "Greedy decoding (the default unless --temperature is given).") var greedy = false
    @Option(help: "Sampling temperature (0 = greedy).") var temperature: Float = 0
    @Option(help: "Nucleus sampling mass.") var topP: Float = 0.95
    @Option(help: "Sampling seed.") var seed: UInt64 = 1
    @Flag(help: "Skip the dense re-run that measures dense decode tokens/s.") var noDenseBaseline = false
    @Flag(help: ArgumentHelp("Gather the whole logits to rank 0 at every step and print a checksum of their bits "
        + "(compares rank counts: equal in --mode gather)."))
    var checksum = false

    func run() throws {
        try withWorld(commOptions) { comm in
            try agreeOnConfiguration(comm) {
                if tokens < 1 { return "--tokens must be ≥ 1" }
                if greedy && temperature > 0 { return "--greedy and --temperature exclude each other" }
                if !(temperature >= 0 && temperature.isFinite) { return "--temperature must be a finite value ≥ 0, found \(temperature)" }
                if !(topP > 0 && topP <= 1) { return "--top-p must be in (0, 1], found \(topP)" }
                return sparsityOptions.problem() ?? commOptions.problem() ?? modelOptions.problem()
            }
            let t0 = Timing.now()
            let llm = try DistributedLlama(comm: comm, path: modelOptions.model, mode: modelOptions.mode, scope: modelOptions.shard,
                                           threads: threadOptions.resolved, context: modelOptions.context, kv: modelOptions.kv, activations: modelOptions.activations,
                                           stepTimeout: commOptions.resolved, progress: TerminalProgress.handler)
            let loadSeconds = Double(Timing.now() - t0) * 1e-9
            guard let model = llm.model else { return try llm.follow() }
            try generate(llm, model, loadSeconds: loadSeconds)
            try llm.stop()  // only on success: after a failure withWorld aborts the job
        }
    }

    /// `loadSeconds`: from opening the file until every rank was ready.
    func generate(_ llm: DistributedLlama, _ model: LlamaModel, loadSeconds: Double) throws {
        let s = sparsityOptions
        let table = try s.table(model: modelOptions.model, config: llm.config, bytes: llm.gguf.size)
        let plan = try s.plan(table: table, layers: llm.config.layers, path: s.path(for: modelOptions.model))
        let ids = chat ? try ChatTemplate(gguf: llm.gguf).encode(user: prompt, tokenizer: model.tokenizer)
                       : model.tokenizer.encode(prompt)
        guard !ids.isEmpty else { throw ValidationError("the prompt has no tokens") }
        let budget = min(tokens, model.config.context - ids.count)
        guard budget > 0 else { throw ValidationError("prompt of \(ids.count) tokens fills the context") }

        // A cold first prefill (page faults, first-touch of scratch) is reported apart, so that the sparse and
        // dense passes below compare like with like.
        var coldMs: Double?
        if !plan.isDense && !noDenseBaseline {
            model.reset()
            coldMs = try Timing.seconds { try llm.prefill(ids) } * 1e3
        }
        let run = try pass(llm, model, ids: ids, tokens: budget, plan: plan, table: table, stream: true)
        print()
        var dense: Pass?
        if !plan.isDense && !noDenseBaseline {
            dense = try pass(llm, model, ids: ids, tokens: run.generated.count, plan: .dense(layers: llm.config.layers),
                             table: nil, stream: false)
        }
        let realized = run.sparsity
        let planned = plan.layerMeans
        func sites(_ v: [Double]) -> String { v.map { f($0, 2) }.joined(separator: "/") }
        var lines = [
            "prompt tokens \(ids.count), prefill \(f(run.prefillMs, 1)) ms; generated \(run.generated.count) tokens; "
                + "\(llm.comm.size) rank(s) × \(threadOptions.resolved) thread(s), shard \(llm.scope.rawValue), "
                + "mode \(modelOptions.mode.rawValue)"
                + (llm.scope == .model && llm.comm.size > 1 ? " (rank 0: \(model.shard))" : ""),
            "decode \(f(run.tokensPerSecond, 1)) tokens/s, sparsity: \(plan.label)",
            "kernels: \(model.kernelSummary)",
            "target sparsity (attention/output/gate-up/down, layer means) \(sites(planned)); realized "
                + (run.decodes > 0 ? sites(realized) : "- (no decode step)"),
        ]
        // Thresholds calibrated on other text (or a synthetic model) can miss the target badly: say so.
        if run.decodes > 0, !plan.isDense, zip(planned, realized).contains(where: { abs($0 - $1) > 0.05 }) {
            lines.append("warning: realized sparsity \(sites(realized)) is more than 5 points from the target "
                + "\(sites(planned)): recalibrate (`actsparse calibrate`) on text like this prompt")
        }
        if let dense {
            lines.append("dense decode \(f(dense.tokensPerSecond, 1)) tokens/s, prefill \(f(dense.prefillMs, 1)) ms: "
                + "sparse speedup \(f(run.tokensPerSecond / dense.tokensPerSecond, 2))×")
        }
        let sp = run.split
        lines.append("per token: attention \(f(sp.attention, 2)) ms, MLP \(f(sp.mlp, 2)) ms, LM head \(f(sp.head, 2)) ms"
            + (dense.map { " (dense: \(f($0.split.attention, 2)), \(f($0.split.mlp, 2)), \(f($0.split.head, 2)))" } ?? ""))
        if checksum { lines.append("logits checksum \(run.checksum.hex) (prefill's last row and every decode step)") }
        if let coldMs { lines.append("first (cold) prefill \(f(coldMs, 1)) ms; the prefills above are warm") }
        let perToken = Double(max(1, run.decodes)), layers = Double(llm.config.layers)
        lines.append("communication \(f(run.commUsPerToken, 1)) µs/token (rank 0, all layers, "
            + "\(f(100 * run.commUsPerToken * 1e-6 * run.tokensPerSecond, 1)) % of the token); per token "
            + "\(f(Double(run.traffic.collectives) / perToken, 1)) collectives (\(f(Double(run.traffic.collectives) / perToken / layers, 2)) "
            + "per layer), \(f(Double(run.traffic.bytes) / perToken / 1e3, 1)) kB "
            + "(\(f(Double(run.traffic.bytes) / perToken / layers / 1e3, 2)) kB per layer)")
        lines.append("load \(f(loadSeconds, 2)) s (\(f(Double(llm.gguf.size) / 1e6 / max(loadSeconds, 1e-9), 0)) MB/s of a "
            + "\(f(Double(llm.gguf.size) / 1e6, 0)) MB file, every rank ready); peak RSS per rank "
            + (try llm.peakResidentPerRank()).map { f($0 / 1e6, 0) }.joined(separator: ", ") + " MB")
        FileHandle.standardError.write(Data(("--\n" + lines.joined(separator: "\n") + "\n").utf8))
    }

    struct Pass {
        var generated: [Int32] = []
        var prefillMs = 0.0
        var decodeSeconds = 0.0
        /// [site] realized, layer means
        var sparsity = [0.0, 0, 0, 0]
        var commUsPerToken = 0.0
        /// collectives and payload bytes over the decode steps (rank 0)
        var traffic = (collectives: 0, bytes: 0)
        var checksum = Checksum()
        var decodes = 0
        var split = (attention: 0.0, mlp: 0.0, head: 0.0)
        var tokensPerSecond: Double { Double(decodes) / max(decodeSeconds, 1e-9) }
    }

    func pass(_ llm: DistributedLlama, _ model: LlamaModel, ids: [Int32], tokens n: Int, plan: SparsityPlan,
              table: ThresholdTable?, stream: Bool) throws -> Pass {
        var p = Pass()
        model.reset()
        try llm.setPlan(plan, table: table, path: sparsityOptions.path(for: modelOptions.model))
        var sampler = Sampler(temperature: greedy ? 0 : temperature, topP: topP, seed: seed)
        var next: Int32 = 0
        /// The next token through the cheapest pick, or (--checksum) from the whole logits, summed into the checksum.
        func step(_ forward: () throws -> UnsafeMutablePointer<Float>) throws -> Int32 {
            let logits = try forward()
            let row = Array(UnsafeBufferPointer(start: logits, count: model.config.vocab))
            p.checksum.add(row)
            return try sampler.sample(logits, count: row.count)
        }
        p.prefillMs = try Timing.seconds {
            next = checksum ? try step { try llm.prefill(ids) } : try llm.prefill(ids, sampler: &sampler)
        } * 1e3
        llm.resetStats()
        model.decodeNanos = (0, 0, 0, 0)
        var out = TextStream()
        if stream { print(chat ? "" : prompt, terminator: ""); fflush(nil) }
        let t0 = Timing.now()
        while p.generated.count < n {
            if next == model.tokenizer.eos || (model.tokenizer.isControl(next) && stream) { break }
            p.generated.append(next)
            if stream {
                print(out.push(model.tokenizer.bytes(of: next)), terminator: "")
                fflush(nil)
            }
            if p.generated.count == n { break }
            let token = next
            next = checksum ? try step { try llm.decode(token) } : try llm.decode(token, sampler: &sampler)
            p.decodes += 1
        }
        p.decodeSeconds = Double(Timing.now() - t0) * 1e-9
        p.sparsity = llm.realizedSiteSparsity
        let per = 1e-6 / Double(max(1, p.decodes))
        p.split = (Double(model.decodeNanos.attention) * per, Double(model.decodeNanos.mlp) * per,
                   Double(model.decodeNanos.head) * per)
        p.commUsPerToken = Double(llm.commNanos) / 1e3 / Double(max(1, p.decodes))
        p.traffic = llm.traffic
        return p
    }
}

func f(_ v: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", v) }
