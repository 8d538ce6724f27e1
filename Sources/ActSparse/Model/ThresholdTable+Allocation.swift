/// Sparsity plans from the table's measurements: uniform, greedily allocated (TEAL-style, on measured ΔNLL), and
/// the plan a quality budget allows.
///
/// The greedy works on input kinds (attention input, attention output, MLP input, gated activation), each at one
/// sparsity in every layer: from dense, it repeatedly raises by one step the kind whose step costs the least
/// *measured* held-out loss per byte saved (`Point.cost`: the larger of ΔNLL and the KL divergence from the dense
/// predictions), with every other kind at its current level (so interactions are in the measurement). Splitting a kind's level among the layers by measured output error (`perLayer`) is available but
/// measured worse than one level per kind on SmolLM2 (docs/benchmarks.md), and so is not the default.
extension ThresholdTable {
    /// The ceiling for any one site (calibration measures no further).
    public static let maxSiteSparsity = 0.9

    /// Whether the table has the attention sites and byte counts plans need.
    public var canAllocate: Bool { modelWide && siteBytes != nil }

    func requireBytes(_ path: String) throws -> [[Int]] {
        guard canAllocate, let siteBytes else {
            throw ActSparseError.file(path: path, problem: "no per-site measurements (an older thresholds file): run " +
                "`actsparse calibrate` again for model-wide sparsity, allocation or a quality budget")
        }
        return siteBytes
    }

    /// [site] weight bytes summed over the layers.
    public var kindBytes: [Double] {
        (0..<SparsitySite.allCases.count).map { s in siteBytes?.reduce(0.0) { $0 + Double($1[s]) } ?? 0 }
    }

    /// Byte sparsity over every linear input of each kind at `levels[site]` in every layer.
    public func byteSparsity(levels: [Double]) -> Double {
        let b = kindBytes, total = b.reduce(0, +)
        return total > 0 ? zip(levels, b).reduce(0) { $0 + $1.0 * $1.1 } / total : 0
    }

    /// The same sparsity on every site of the scope, chosen so the byte sparsity (over every site) is `goal`
    /// (capped at `maxSiteSparsity`).
    public func uniform(byteSparsity goal: Double, modelWide: Bool, path: String = "thresholds") throws -> SparsityPlan {
        _ = try requireBytes(path)
        let sites = SparsitySite.scope(modelWide: modelWide)
        let b = kindBytes, total = b.reduce(0, +)
        let inScope = sites.reduce(0.0) { $0 + b[$1.rawValue] }
        let s = min(ThresholdTable.maxSiteSparsity, inScope > 0 ? goal * total / inScope : 0)
        let levels = SparsitySite.allCases.map { sites.contains($0) ? s : 0 }
        return SparsityPlan(sparsity: Array(repeating: levels, count: layers),
                            label: "uniform \(pct(s)), \(modelWide ? "model-wide" : "MLP only"), "
                                + "\(pct(byteSparsity(levels: levels))) of FC bytes")
    }

    /// Along the measured greedy path of the scope, the kind levels that reach byte sparsity `goal` (linear between
    /// measured steps; a goal beyond the path's last step stops there, and the label says so).
    public func allocate(byteSparsity goal: Double, modelWide: Bool, perLayer: Bool = false,
                         path: String = "thresholds") throws -> SparsityPlan {
        _ = try requireBytes(path)
        let steps = (modelWide ? heldOut?.allocated : heldOut?.allocatedMLP) ?? []
        guard let last = steps.last else {
            throw ActSparseError.file(path: path, problem: "no measured allocation path: run `actsparse calibrate` " +
                "again with a held-out slice")
        }
        let origin = Point(levels: [0, 0, 0, 0], byteSparsity: 0, deltaNLL: 0)
        var levels = last.levels
        for (a, b) in zip([origin] + steps, steps) where goal <= b.byteSparsity {
            let f = b.byteSparsity > a.byteSparsity ? max(0, goal - a.byteSparsity) / (b.byteSparsity - a.byteSparsity) : 1
            levels = zip(a.levels, b.levels).map { $0 + f * ($1 - $0) }
            break
        }
        var p = allocate(kindLevels: levels, perLayer: perLayer)
        p.label = "allocated, \(modelWide ? "model-wide" : "MLP only"), \(pct(byteSparsity(levels: levels))) of FC bytes"
            + (goal > last.byteSparsity + 1e-9 ? " (the measured path ends there)" : "")
            + (perLayer ? ", split per layer by output error" : "")
        return p
    }

    /// Per-layer sparsities whose mean over the layers is `levels[site]` for every site. With `perLayer`, the layers
    /// of one kind trade by measured output error (a greedy over layers in 5-point steps, up to `maxSiteSparsity`,
    /// then the last partial step); otherwise (or without output errors) every layer at the level.
    public func allocate(kindLevels levels: [Double], perLayer: Bool = false) -> SparsityPlan {
        var plan = Array(repeating: levels, count: layers)
        let label = "per kind \(levels.map(pct).joined(separator: "/"))"
        guard perLayer, let outputError, let siteBytes else { return SparsityPlan(sparsity: plan, label: label) }
        let top = targets.lastIndex { $0 <= ThresholdTable.maxSiteSparsity + 1e-9 } ?? 0
        for s in SparsitySite.allCases.map(\.rawValue) {
            let goal = levels[s] * Double(layers)
            var level = Array(repeating: 0, count: layers), sum = 0.0
            while sum < goal - 1e-9 {
                var best: (ratio: Double, l: Int)?
                for l in 0..<layers where level[l] < top && siteBytes[l][s] > 0 {
                    let k0 = level[l]
                    let ratio = (outputError[l][s][k0 + 1] - outputError[l][s][k0]) / (targets[k0 + 1] - targets[k0])
                    if best.map({ ratio < $0.ratio }) ?? true { best = (ratio, l) }
                }
                guard let b = best else { break }
                sum += targets[level[b.l] + 1] - targets[level[b.l]]
                level[b.l] += 1
            }
            for l in 0..<layers { plan[l][s] = targets[level[l]] }
        }
        return SparsityPlan(sparsity: plan, label: label + ", per layer by output error")
    }

    /// The plan of a measured point (each kind at its level in every layer).
    public func plan(of point: Point) -> SparsityPlan { allocate(kindLevels: point.levels) }

    /// The highest byte sparsity among the measured points (uniform, allocated, allocated MLP-only) within
    /// `maxDeltaNLL` (see `best`; dense when none is), as a plan.
    public func plan(budget maxDeltaNLL: Double, path: String = "thresholds") throws -> SparsityPlan {
        guard let heldOut, !heldOut.paths.joined().isEmpty else {
            throw ActSparseError.file(path: path, problem: "no held-out ΔNLL measurements: run `actsparse calibrate` " +
                "again with a held-out slice to use a quality budget, or use a uniform sparsity")
        }
        guard let point = ThresholdTable.best(paths: heldOut.paths, within: maxDeltaNLL) else {
            var d = SparsityPlan.dense(layers: layers)
            d.label = "budget ≤ +\(fmt(maxDeltaNLL)) nats: dense (no measured point within it)"
            return d
        }
        var p = plan(of: point)
        let kind = Set(point.levels).count == 1 ? "uniform" : "allocated"
        p.label = "budget ≤ +\(fmt(maxDeltaNLL)) nats: \(kind) \(p.label), \(pct(point.byteSparsity)) of FC bytes "
            + "(held-out ΔNLL \(String(format: "%+.3f", point.deltaNLL))"
            + (point.kl.map { String(format: ", KL %.3f", $0) } ?? "") + ")"
        return p
    }

    /// The point of highest byte sparsity whose loss (`Point.cost`) is within `limit` (the lower loss on a tie).
    /// On each path (ascending byte sparsity) a point counts only if no point before it exceeded the limit
    /// either: a lucky dip after a step over the budget is not a plan to trust.
    public static func best(paths: [[Point]], within limit: Double) -> Point? {
        var candidates: [Point] = []
        for path in paths {
            for p in path.sorted(by: { $0.byteSparsity < $1.byteSparsity }) {
                guard p.cost <= limit else { break }
                candidates.append(p)
            }
        }
        return candidates.max { ($0.byteSparsity, -$0.cost) < ($1.byteSparsity, -$1.cost) }
    }

    /// Weight bytes one decode token skips under `plan` (targets, every site).
    public func bytesSaved(_ plan: SparsityPlan) -> Int {
        guard let siteBytes else { return 0 }
        var saved = 0.0
        for l in 0..<min(layers, plan.sparsity.count) {
            for s in 0..<SparsitySite.allCases.count { saved += Double(siteBytes[l][s]) * plan.sparsity[l][s] }
        }
        return Int(min(saved, 1e18))  // a crafted file cannot trap the conversion
    }
}

func fmt(_ v: Double) -> String { String(format: "%.2f", v) }
