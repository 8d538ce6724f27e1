import ActSparse
import ActSparseDistributed

/// Calibration of a model's thresholds from text in registers (prose, dialogue, code, lists, a chat), as a library
/// (the `calibrate` command is one client):
/// 1. every register (less its held-out end) runs through the dense model in chunks; |x| of every thresholded input
///    of every layer goes into a quantile sketch, each chunk's first position left out (its massive activations);
/// 2. each input's output error at every target, on `probeTokens` of it (what a per-layer split uses);
/// 3. on the held-out ends: the dense NLL and predictions per register, uniform plans at byte sparsities 10 … 70 %,
///    the greedy paths over every linear input and over the MLP's two (a plan's loss: its worst register), and the
///    byte sparsity the budget `maxDeltaNLL` allows;
/// 4. with a budget: free-running text of the plan it picks against the dense text on 3 openings per register; a
///    plan whose text repeats itself more than dense's (`Repetition.degenerates`) is out of budget, and the next
///    one is checked.
/// Runs on one process, or under mpirun on whole-model shards: rank 0 drives (`run`), the others `follow()`; each
/// rank sketches and probes its own slices, one reduce per step merges them, and the held-out scoring and the
/// free-running check run on the distributed forward. The model's capture hooks are set and cleared here.
public struct Calibration {
    public struct Options: Sendable {
        /// Calibration tokens at most (held-out end included).
        public var tokens = 2048
        /// Tokens per chunk (each chunk starts a new sequence).
        public var chunk = 128
        /// Tokens of the calibration part whose output errors are measured (0: none).
        public var probeTokens = 128
        /// Tokens at the end of the registers kept out of steps 1–2 and scored for ΔNLL, split evenly among them
        /// (nil: 128 per register, at most a quarter of each; 0: none).
        public var heldOut: Int?
        /// Free-running check of a budget's plan: tokens generated after each opening (`checkPrompts`).
        public var checkTokens = 48
        /// Tokens of each opening the check continues.
        public static let checkPrompt = 32
        /// Openings per register the check continues: the held-out one and the rest spread over the calibration
        /// part (one opening per register let plans through that looped on other text of the same kind).
        public static let checkOpenings = 3
        /// Quality budget in nats/token: refine the path around it and record the byte sparsity it allows.
        public var maxDeltaNLL: Double?

        public init(tokens: Int = 2048, chunk: Int = 128, probeTokens: Int = 128, heldOut: Int? = nil,
                    maxDeltaNLL: Double? = nil) {
            self.tokens = tokens; self.chunk = chunk; self.probeTokens = probeTokens; self.heldOut = heldOut
            self.maxDeltaNLL = maxDeltaNLL
        }

        /// Why these options cannot run (nil: they can), naming the option.
        public var problem: String? {
            if chunk < 2 || tokens < chunk { return "the chunk must be ≥ 2 tokens and ≤ the calibration tokens" }
            if probeTokens < 0 || (heldOut ?? 0) < 0 { return "probe and held-out tokens must be ≥ 0" }
            if heldOut == 1 { return "held-out tokens must be 0 or ≥ 2" }
            if let x = maxDeltaNLL, !(x >= 0 && x.isFinite) { return "the budget must be ≥ 0 nats, found \(x)" }
            if maxDeltaNLL != nil && heldOut == 0 { return "a budget needs held-out tokens" }
            return nil
        }
    }

    public let llm: DistributedLlama
    public let options: Options
    let progress: Progress.Handler?
    /// Told the cost model once the second chunk has run (its speed prices the rest).
    public var onEstimate: ((Cost) -> Void)?
    var tokens: Int { options.tokens }
    var chunk: Int { options.chunk }
    var probeTokens: Int { options.probeTokens }
    var heldOut: Int? { options.heldOut }
    var maxDeltaNLL: Double? { options.maxDeltaNLL }

    /// `llm`: one rank, or whole-model shards (its context at least `options.chunk`). Every rank passes the same
    /// options (they decide which steps the ranks run together).
    public init(_ llm: DistributedLlama, options: Options, progress: Progress.Handler? = nil) throws {
        if let p = options.problem { throw ActSparseError.invalidValue(what: "calibration options", expected: "valid", found: p) }
        guard llm.comm.size == 1 || (llm.scope == .model && llm.mlps.allSatisfy { $0.mode == .gather }) else {
            throw ActSparseError.invalidValue(what: "calibration on \(llm.comm.size) ranks",
                                              expected: "whole-model shards in gather mode (every FC an OC slice)",
                                              found: "shard \(llm.scope.rawValue), mode \(llm.mlps.first?.mode.rawValue ?? "-")")
        }
        guard llm.local != nil else {
            throw ActSparseError.invalidValue(what: "calibration", expected: "a model on this rank", found: "none")
        }
        self.llm = llm
        self.options = options
        self.progress = progress
    }

    /// The thresholds table of `text` as one register (`name` is how errors refer to it).
    public func run(text: String, name: String = "text") throws -> ThresholdTable {
        try run(texts: [CalibrationText(name: name, .text(text))])
    }

    /// One register's tokens: the part steps 1–2 read and the held-out end.
    struct Split { var name: String; var calibration: [Int32]; var heldOut: [Int32] }

    /// Every register's tokens (at most `tokens` in all, shared evenly: a short register leaves its share to the
    /// others) and their held-out ends.
    func split(_ texts: [CalibrationText], model: LlamaModel) throws -> [Split] {
        let template = try? ChatTemplate(gguf: llm.gguf)
        let all = texts.map { $0.tokens(model, template: template) }
        let caps = Calibration.shares(all.map(\.count), total: tokens)
        let r = max(1, texts.count)
        return zip(texts, zip(all, caps)).map { text, pair in
            let ids = Array(pair.0.prefix(pair.1))
            var held = heldOut.map { $0 == 0 ? 0 : max(2, $0 / r) } ?? min(128, ids.count / 4)
            if held < 2 || held >= ids.count { held = 0 }
            return Split(name: text.name, calibration: Array(ids.dropLast(held)), heldOut: Array(ids.suffix(held)))
        }
    }

    /// Shares of `total` for lists of `counts` tokens: equal, and what a short list leaves goes to the longer ones.
    public static func shares(_ counts: [Int], total: Int) -> [Int] {
        var left = total, out = counts.map { _ in 0 }
        var open = Array(counts.indices).sorted { counts[$0] < counts[$1] }
        while !open.isEmpty {
            let share = left / open.count, k = open.removeFirst()
            out[k] = min(counts[k], share)
            left -= out[k]
        }
        return out
    }

    /// The thresholds table of the registers `texts`.
    public func run(texts: [CalibrationText]) throws -> ThresholdTable {
        guard let model = llm.model else {
            throw ActSparseError.invalidValue(what: "calibration", expected: "rank 0", found: "rank \(llm.comm.rank)")
        }
        let c = llm.config
        let registers = try split(texts, model: model)
        // Chunks of every register, taken in turn (so a probe of a few chunks sees every register); a last partial
        // chunk counts from `minChunk` tokens.
        var perRegister = registers.map { r in
            stride(from: 0, to: r.calibration.count, by: chunk).map { Array(r.calibration[$0..<min(r.calibration.count, $0 + chunk)]) }
                .filter { $0.count >= min(chunk, Calibration.minChunk) }
        }
        var chunks: [[Int32]] = []
        while perRegister.contains(where: { !$0.isEmpty }) {
            for k in perRegister.indices where !perRegister[k].isEmpty { chunks.append(perRegister[k].removeFirst()) }
        }
        guard !chunks.isEmpty else {
            throw ActSparseError.invalidValue(what: "calibration text " + registers.map(\.name).joined(separator: ", "),
                                              expected: "at least \(min(chunk, Calibration.minChunk)) tokens beyond the held-out ends",
                                              found: "\(registers.map { $0.calibration.count }.reduce(0, +)) tokens")
        }

        // 1. Quantiles of every input.
        let calibrator = ThresholdCalibrator(layers: c.layers)
        var table = calibrator.table(config: c, modelBytes: llm.gguf.size)
        table.siteBytes = try siteBytes()
        let held = registers.filter { !$0.heldOut.isEmpty }
        let cost = Cost(table: table, chunks: chunks.map(\.count), probeTokens: probeTokens, chunk: chunk,
                        heldOut: held.map { $0.heldOut.count }, budget: maxDeltaNLL, checkTokens: options.checkTokens,
                        weightBytes: llm.gguf.size,
                        headShare: Double(c.vocab) / Double(max(1, c.layers * (2 * c.hidden * c.qDim + 2 * c.hidden * c.kvDim
                            + 3 * c.hidden * c.intermediate) / c.hidden)))
        let several = llm.comm.size > 1
        capture(into: calibrator, model: model)
        try runChunks(model, chunks, label: "calibrating: quantiles", cost: cost)
        clearCaptures(model)
        let sites = table.siteBytes
        if several {
            // The followers leave `follow()`, and every rank's sketches meet in one reduce.
            try llm.stop()
            try calibrator.merge(llm.comm)
        }
        table = calibrator.table(config: c, modelBytes: llm.gguf.size)
        table.siteBytes = sites

        // 2. Output error of every input at every target.
        if probeTokens > 0 {
            let probe = try probe(model, try shareThresholds(table)) {
                try runChunks(model, Array(chunks.prefix(cost.probeChunks)), label: "calibrating: output errors")
                if several { try llm.stop() }
            }
            table.outputError = probe.relativeError
        }

        // 3–4. ΔNLL on the held-out ends, the free-running check (the others follow until rank 0 stops them).
        if scores {
            if !held.isEmpty && table.canAllocate { try measureHeldOut(&table, held) }
            if several { try llm.stop() }
        }
        return table
    }

    /// Whether steps 3–4 run (every rank knows from the options; rank 0 may still find nothing to score).
    var scores: Bool { heldOut != 0 }

    func clearCaptures(_ model: LlamaModel) {
        model.capture = nil
        for mlp in llm.mlps { mlp.capture = nil; mlp.downCapture = nil }
    }

    /// Rank 0's merged thresholds to every rank: (targets, [site][layer][target]). Rank 0 passes its table.
    func shareThresholds(_ table: ThresholdTable?) throws -> (targets: [Double], rows: [[[Float]]]) {
        let comm = llm.comm, L = llm.config.layers, S = SparsitySite.allCases
        var count = Int32(table?.targets.count ?? 0)
        if let table {
            for site in S where table.rows(site).map({ $0.count != L || $0.contains { $0.count != table.targets.count } }) ?? true {
                throw ActSparseError.shape(what: "\(site) thresholds", expected: "\(L) layers × \(table.targets.count) targets",
                                           found: "another shape")
            }
        }
        count = try comm.broadcast(value: count)
        guard count > 0 && count <= 1024 else {
            throw ActSparseError.invalidValue(what: "thresholds from rank 0", expected: "1...1024 targets", found: "\(count)")
        }
        let T = Int(count)
        var targets = table?.targets ?? [Double](repeating: 0, count: T)
        var flat = table.map { t in S.flatMap { (t.rows($0) ?? []).flatMap { $0 } } } ?? [Float](repeating: 0, count: S.count * L * T)
        try comm.broadcast(&targets, count: T)
        try comm.broadcast(&flat, count: flat.count)
        let rows = S.indices.map { s in (0..<L).map { l in Array(flat[((s * L + l) * T)..<((s * L + l + 1) * T)]) } }
        return (targets, rows)
    }

    /// Step 2 on this rank: the output-error probe's captures on `local` while `body` runs (rank 0: the probe
    /// chunks; the others: `follow()`), then every rank's sums merged on rank 0. Gather mode: every FC is an OC
    /// slice of an input each rank holds whole (the gathered attention output, all of a), so the ranks' squared
    /// outputs add up; a KV head several ranks hold counts on one.
    func probe(_ local: LlamaModel, _ thresholds: (targets: [Double], rows: [[[Float]]]),
               _ body: () throws -> Void) throws -> OutputErrorProbe {
        let c = llm.config, comm = llm.comm, sharded = comm.size > 1
        let probe = OutputErrorProbe(layers: c.layers, targets: thresholds.targets)
        let (outputWidth, outputReplicated) = local.outputCaptureShape
        let kv = local.shard.countedKVHeads(group: c.heads / max(1, c.kvHeads))
        let kvColumns = (kv.lowerBound * c.headDim)..<(kv.upperBound * c.headDim)
        guard !sharded || outputReplicated else {
            throw ActSparseError.invalidValue(what: "output-error probe on shards", expected: "the whole attention output on every rank",
                                              found: "this rank's heads only")
        }
        var failure: Error?
        func measure(_ l: Int, _ site: SparsitySite, _ x: UnsafePointer<Float>, _ m: Int, width: Int) {
            guard failure == nil else { return }
            do {
                let fcs = local.fcs(layer: l, site: site) + llm.mlps[l].fcs(for: site)
                var columns: [Range<Int>]?
                if site == .attention && sharded {
                    guard fcs.count == 3, fcs[1].oc == local.shard.kvHeads.count * c.headDim else {
                        throw ActSparseError.shape(what: "layer \(l) q/k/v slices", expected: "3 FCs, k of \(local.shard.kvHeads.count) heads",
                                                   found: "\(fcs.count) FCs")
                    }
                    columns = [0..<fcs[0].oc, kvColumns, kvColumns]
                }
                try probe.add(layer: l, site: site, x: x, m: m, width: width, skip: 1, fcs: fcs, columns: columns,
                              thresholds: thresholds.rows[site.rawValue][l])
            } catch { failure = error }
        }
        local.capture = { l, site, x, m in
            measure(l, site, x, m, width: site == .output ? outputWidth : c.hidden)
        }
        for (l, mlp) in llm.mlps.enumerated() {
            let w = mlp.downInputWidth
            mlp.capture = { x, _, m in measure(l, .gateUp, x, m, width: c.hidden) }
            mlp.downCapture = { a, m in measure(l, .down, a, m, width: w) }
        }
        do {
            defer { clearCaptures(local) }
            try body()
        }
        if let failure { throw failure }
        try probe.merge(comm)
        return probe
    }

    /// A rank other than 0 under mpirun, step by step with rank 0: runs its share of rank 0's chunks, sketching its
    /// share of every input, until rank 0 stops, then sends its sketches (and its weight bytes) to rank 0; probes its
    /// own FCs on rank 0's thresholds; follows the held-out scoring and the free-running check.
    public func follow() throws {
        guard let local = llm.local, !llm.comm.isRoot else {
            throw ActSparseError.invalidValue(what: "calibration follower", expected: "a rank other than 0 with a shard",
                                              found: "rank \(llm.comm.rank)")
        }
        let calibrator = ThresholdCalibrator(layers: llm.config.layers)
        _ = try siteBytes()
        capture(into: calibrator, model: local)
        do {
            defer { clearCaptures(local) }
            try llm.follow()
        }
        try calibrator.merge(llm.comm)
        if probeTokens > 0 { _ = try probe(local, try shareThresholds(nil)) { try llm.follow() } }
        if scores { try llm.follow() }
    }

    /// [layer][site] weight bytes the model's FCs read per dense token, summed over the ranks' slices (every rank
    /// calls it).
    func siteBytes() throws -> [[Int]] {
        guard let local = llm.local else { return [] }
        let c = llm.config, L = c.layers, k = SparsitySite.allCases.count
        // A KV head several ranks hold (more ranks than KV heads) counts on one: the file is one process's.
        let held = local.shard.kvHeads.count, counted = local.shard.countedKVHeads(group: c.heads / max(1, c.kvHeads)).count
        let mine = (0..<L).flatMap { l in
            SparsitySite.allCases.map { s in
                let fcs = local.fcs(layer: l, site: s) + llm.mlps[l].fcs(for: s)
                return UInt64(fcs.enumerated().reduce(0) { sum, e in
                    let kv = s == .attention && e.offset > 0 && held > 0
                    return sum + (kv ? e.element.weights.bytes / held * counted : e.element.weights.bytes)
                })
            }
        }
        let all = try ExactSum.reduce(mine, comm: llm.comm)
        return (0..<L).map { l in (0..<k).map { Int(all[l * k + $0]) } }
    }

    /// Sets the quantile captures: an input every rank sees (the attention and MLP inputs, the gathered attention
    /// output) is sketched on this rank's share of its columns, a rank's own slice (its heads' attention output,
    /// its intermediate slice) whole, so the merged sketches hold every value once.
    func capture(into calibrator: ThresholdCalibrator, model: LlamaModel) {
        let c = llm.config, ranks = llm.comm.size, rank = llm.comm.rank
        func share(_ width: Int) -> Range<Int> { Parallel.split(width, parts: ranks, align: 1)[min(rank, ranks - 1)] }
        let (outputWidth, outputReplicated) = model.outputCaptureShape
        model.capture = { l, site, x, m in
            switch site {
            case .output:
                calibrator.add(layer: l, site: site, x: x, m: m, width: outputWidth, skip: 1,
                               columns: outputReplicated ? share(outputWidth) : 0..<outputWidth)
            default:
                calibrator.add(layer: l, site: site, x: x, m: m, width: c.hidden, skip: 1, columns: share(c.hidden))
            }
        }
        for (l, mlp) in llm.mlps.enumerated() {
            let w = mlp.sliceWidth
            mlp.capture = { x, a, m in
                calibrator.add(layer: l, site: .gateUp, x: x, m: m, width: c.hidden, skip: 1, columns: share(c.hidden))
                calibrator.add(layer: l, site: .down, x: a, m: m, width: w, skip: 1, columns: 0..<w)
            }
        }
    }

    /// Prefills each chunk as a new sequence (the capture hooks see every layer's inputs). With `cost`, the second
    /// chunk's speed turns it into an estimate for the caller (`onEstimate`): the first pays for touching the
    /// mapped weights once (SmolLM2 just downloaded: 332 tokens/s, then 750), which priced a 54 s run at 180 s.
    func runChunks(_ model: LlamaModel, _ chunks: [[Int32]], label: String, cost: Cost? = nil) throws {
        let progress = Progress(label, total: chunks.count, unit: .items("chunks of ≤ \(chunk) tokens"), handler: self.progress)
        for (k, ids) in chunks.enumerated() {
            let t0 = Timing.now()
            model.reset()
            try llm.prefill(ids)
            if k == min(1, chunks.count - 1), var cost, let onEstimate {
                cost.prefillTokensPerSecond = Double(ids.count) / max(1e-9, Double(Timing.now() - t0) * 1e-9)
                onEstimate(cost)
            }
            progress.advance(1)
        }
        progress.finish()
    }

    func measureHeldOut(_ table: inout ThresholdTable, _ held: [Split]) throws {
        let L = table.layers
        let budget = maxDeltaNLL
        let uniformPath = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]
        let stopAt = max(1.0, 3 * (budget ?? 0))
        // Scorings: dense, the uniform path, the two greedy paths, the budget's bisection. The greedy paths' counts
        // are bounds, lowered before every step as the search learns where it stops.
        let all = SparsitySite.allCases, mlp: [SparsitySite] = [.gateUp, .down], maxBytes = 0.8
        let zero = [0.0, 0, 0, 0]
        let mlpBound = table.greedyMeasurements(kinds: mlp, from: zero, maxByteSparsity: maxBytes)
        let bisection = budget == nil ? 0 : 3
        let heldTokens = held.reduce(0) { $0 + $1.heldOut.count - 1 }
        let progress = Progress("calibrating: held-out ΔNLL", total: 1 + uniformPath.count
                                    + table.greedyMeasurements(kinds: all, from: zero, maxByteSparsity: maxBytes) + mlpBound + bisection,
                                unit: .items("scorings of \(heldTokens) tokens in \(held.count) registers"), handler: self.progress)
        // The dense predictions are kept ([held-out positions, vocab] per register) to measure each plan's KL.
        let references = held.map { _ in LogProbTable() }
        try llm.setPlan(.dense(layers: L), table: table)
        var dense: [Double] = [], scored: [Int] = []
        for (r, reg) in held.enumerated() {
            let d = try llm.negativeLogLikelihood(reg.heldOut, window: chunk, batched: true, record: references[r])
            dense.append(d.nll)
            scored.append(d.scored)
        }
        let total = Double(max(1, scored.reduce(0, +)))
        progress.advance(1)
        func point(_ levels: [Double]) throws -> ThresholdTable.Point {
            try llm.setPlan(table.allocate(kindLevels: levels), table: table)
            defer { progress.advance(1) }
            var delta = 0.0, kl = 0.0, worst: [Double] = []
            for (r, reg) in held.enumerated() {
                let m = try llm.negativeLogLikelihood(reg.heldOut, window: chunk, batched: true, reference: references[r])
                let w = Double(m.scored) / total
                delta += w * (m.nll - dense[r])
                kl += w * (m.kl ?? 0)
                worst.append(max(m.nll - dense[r], m.kl ?? -.infinity))
            }
            return .init(levels: levels, byteSparsity: table.byteSparsity(levels: levels), deltaNLL: delta, kl: kl,
                         registers: held.count > 1 ? worst : nil)
        }
        var uniform: [ThresholdTable.Point] = []
        for b in uniformPath {
            let s = try table.uniform(byteSparsity: b, modelWide: true).sparsity[0][0]
            uniform.append(try point([s, s, s, s]))
            if let u = uniform.last, u.cost > stopAt { break }
        }
        progress.total = progress.done + table.greedyMeasurements(kinds: all, from: zero, maxByteSparsity: maxBytes)
            + mlpBound + bisection
        /// `after`: the bound of the work that follows this path.
        let bounds = table  // a copy the progress closure may keep (table is inout)
        func greedy(_ kinds: [SparsitySite], after: Int) throws -> [ThresholdTable.Point] {
            try table.greedyPath(kinds: kinds, maxByteSparsity: maxBytes, stopAt: stopAt, lazy: true, remaining: { levels in
                progress.total = progress.done + bounds.greedyMeasurements(kinds: kinds, from: levels, maxByteSparsity: maxBytes) + after
            }, measurePoint: point)
        }
        var allocated = try greedy(all, after: mlpBound + bisection)
        progress.total = progress.done + mlpBound + bisection
        var allocatedMLP = try greedy(mlp, after: bisection)
        progress.total = progress.done + bisection
        if let budget {
            // Bisect between the first allocated step over the budget and the one before it (levels in between).
            let over = allocated.firstIndex { $0.cost > budget }
            var lo = over.flatMap { $0 > 0 ? allocated[$0 - 1] : nil } ?? .init(levels: [0, 0, 0, 0], byteSparsity: 0, deltaNLL: 0)
            var hi = over.map { allocated[$0] }
            for _ in 0..<3 {
                guard let h = hi else { break }
                let mid = try point(zip(lo.levels, h.levels).map { ($0 + $1) / 2 })
                allocated.append(mid)
                if mid.cost <= budget { lo = mid } else { hi = mid }
            }
            allocated.sort { $0.byteSparsity < $1.byteSparsity }
        }
        progress.finish()
        var denseText: Repetition?, skipped = 0
        if let budget {
            // 4. Free-running text: the dense continuations, then the budget's pick until one does not degenerate.
            let prompts = held.flatMap(Calibration.checkPrompts)
            let check = Progress("calibrating: free-running check", total: 2,
                                 unit: .items("plans × \(prompts.count) prompts × \(options.checkTokens) tokens"),
                                 handler: self.progress)
            try llm.setPlan(.dense(layers: L), table: table)
            let denseRuns = try llm.greedyContinuations(prompts, tokens: options.checkTokens)
            let reference = Repetition(texts: denseRuns)
            denseText = reference
            check.advance(1)
            for _ in 0..<Calibration.maxChecks {
                guard let p = ThresholdTable.best(paths: [uniform, allocated, allocatedMLP], within: budget), p.text == nil else { break }
                try llm.setPlan(table.plan(of: p), table: table)
                let text = Repetition(texts: try llm.greedyContinuations(prompts, tokens: options.checkTokens), reference: denseRuns)
                let bad = text.degenerates(comparedTo: reference)
                for k in uniform.indices where uniform[k] == p { uniform[k].text = text; uniform[k].degenerates = bad }
                for k in allocated.indices where allocated[k] == p { allocated[k].text = text; allocated[k].degenerates = bad }
                for k in allocatedMLP.indices where allocatedMLP[k] == p { allocatedMLP[k].text = text; allocatedMLP[k].degenerates = bad }
                check.advance(1)
                if !bad { break }
                skipped += 1
                check.total += 1
            }
            check.finish()
        }
        table.heldOut = .init(tokens: heldTokens, denseNLL: zip(dense, scored).reduce(0) { $0 + $1.0 * Double($1.1) } / total,
                              uniform: uniform, allocated: allocated, allocatedMLP: allocatedMLP,
                              registers: held.count > 1 ? held.indices.map { .init(name: held[$0].name, tokens: scored[$0], denseNLL: dense[$0]) } : nil,
                              denseText: denseText)
        if let budget {
            let plan = try table.plan(budget: budget)
            let p = ThresholdTable.best(paths: [uniform, allocated, allocatedMLP], within: budget)
            table.budget = .init(maxDeltaNLL: budget, byteSparsity: p?.byteSparsity ?? 0, deltaNLL: p?.cost ?? 0,
                                 bytesSavedPerToken: table.bytesSaved(plan), degenerateSkipped: skipped)
        }
    }

    /// A register's openings for the free-running check: its held-out opening, then openings evenly spread over its
    /// calibration part (`Options.checkOpenings` in all, fewer when the register is short).
    static func checkPrompts(_ r: Split) -> [[Int32]] {
        let n = Options.checkPrompt, c = r.calibration
        var prompts = r.heldOut.count >= 2 ? [Array(r.heldOut.prefix(n))] : []
        let more = Options.checkOpenings - prompts.count
        if more > 0 && c.count >= 2 * n {
            for k in 0..<more { prompts.append(Array(c[(k * (c.count - n) / max(more - 1, 1))...].prefix(n))) }
        }
        return prompts
    }

    /// Tokens a last partial chunk of a register needs to count.
    static let minChunk = 16

    /// Plans the free-running check tries at most before it settles on the best one it has not checked.
    static let maxChecks = 6
}
