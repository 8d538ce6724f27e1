/// Per-layer, per-site sparsity for an average byte sparsity (TEAL-style greedy), and the plan a quality budget
/// allows. The greedy reads only the table's measurements: the predicted ΔNLL of site s of layer l at target k is
/// the ΔNLL measured with that input kind at k in every layer, shared among the layers in proportion to the
/// output error each layer's FCs showed at k. (Sharing by each site's ΔNLL measured alone at 70 % was tried:
/// it pushed sites that looked free to 95 % and measured 5–10× worse than uniform at 40 %.) It repeatedly raises the sparsity of the site whose next step costs
/// the least predicted ΔNLL per byte saved (looking at every later target, so a flat stretch after a steep one is
/// still found), until the byte-weighted sparsity over all sites reaches the goal.
extension ThresholdTable {
    /// The allocator's ceiling for any one site (calibration measures each kind up to here).
    public static let maxSiteSparsity = 0.9

    /// Whether the version-2 measurements the allocator needs are present.
    public var canAllocate: Bool { modelWide && siteBytes != nil && outputError != nil }

    func requireAllocation(_ path: String) throws -> (bytes: [[Int]], error: [[[Double]]]) {
        guard canAllocate, let siteBytes, let outputError else {
            throw ActSparseError.file(path: path, problem: "no per-site error measurements (an older thresholds " +
                "file): run `actsparse calibrate` again to allocate sparsity or use a quality budget")
        }
        return (siteBytes, outputError)
    }

    /// Greedy allocation reaching byte sparsity `goal` (over every site's bytes) using only the sites of `scope`.
    /// A goal beyond what the scope can reach stops at `maxSiteSparsity` everywhere.
    public func allocate(byteSparsity goal: Double, modelWide: Bool, path: String = "thresholds") throws -> SparsityPlan {
        let (bytes, error) = try requireAllocation(path)
        let sites = SparsitySite.scope(modelWide: modelWide)
        let cost = predictedDeltaNLL(error)
        var level = Array(repeating: Array(repeating: 0, count: SparsitySite.allCases.count), count: layers)
        let total = bytes.joined().reduce(0) { $0 + Double($1) }
        var saved = 0.0
        // No site beyond the highest target a kind was measured at (`maxSiteSparsity`): no extrapolated costs.
        let top = targets.lastIndex { $0 <= ThresholdTable.maxSiteSparsity + 1e-9 } ?? 0
        while total > 0 && saved < goal * total - 1e-9 {
            var best: (ratio: Double, l: Int, s: Int, k: Int)?
            for l in 0..<layers {
                for site in sites {
                    let s = site.rawValue, b = Double(bytes[l][s]), k0 = level[l][s]
                    guard b > 0, k0 < top else { continue }
                    let c0 = cost[l][s][k0]
                    for k in stride(from: top, through: k0 + 1, by: -1) {  // on a tie, the longer step
                        let ratio = (cost[l][s][k] - c0) / (b * (targets[k] - targets[k0]))
                        if best.map({ ratio < $0.ratio }) ?? true { best = (ratio, l, s, k) }
                    }
                }
            }
            guard let step = best else { break }  // every site of the scope at its top target
            saved += Double(bytes[step.l][step.s]) * (targets[step.k] - targets[level[step.l][step.s]])
            level[step.l][step.s] = step.k
        }
        let plan = level.map { $0.map { targets[$0] } }
        return SparsityPlan(sparsity: plan, label: "allocated, \(modelWide ? "model-wide" : "MLP only"), "
            + "\(pct(total > 0 ? saved / total : 0)) of FC bytes")
    }

    /// [layer][site][target] predicted ΔNLL of each site alone: the kind's measured ΔNLL shared by output error
    /// (without measured ΔNLL, the output error itself).
    func predictedDeltaNLL(_ error: [[[Double]]]) -> [[[Double]]] {
        let sites = SparsitySite.allCases.count
        var cost = error
        guard let siteDeltaNLL else { return cost }
        for s in 0..<sites {
            for k in targets.indices {
                let share = (0..<layers).map { error[$0][s][k] }
                let sum = share.reduce(0, +)
                for l in 0..<layers {
                    cost[l][s][k] = siteDeltaNLL[s][k] * (sum > 0 ? share[l] / sum : 1 / Double(layers))
                }
            }
        }
        return cost
    }

    /// The same sparsity on every site of the scope, chosen so the byte sparsity (over every site) is `goal`
    /// (capped at the top calibrated target).
    public func uniform(byteSparsity goal: Double, modelWide: Bool, path: String = "thresholds") throws -> SparsityPlan {
        let (bytes, _) = try requireAllocation(path)
        let sites = SparsitySite.scope(modelWide: modelWide)
        let total = bytes.joined().reduce(0) { $0 + Double($1) }
        let inScope = bytes.reduce(0.0) { acc, row in acc + sites.reduce(0.0) { $0 + Double(row[$1.rawValue]) } }
        let s = min(targets.last ?? 0, inScope > 0 ? goal * total / inScope : 0)
        let row = SparsitySite.allCases.map { sites.contains($0) ? s : 0 }
        return SparsityPlan(sparsity: Array(repeating: row, count: layers),
                            label: "uniform \(pct(s)), \(modelWide ? "model-wide" : "MLP only"), "
                                + "\(pct(s * inScope / max(total, 1))) of FC bytes")
    }

    /// The plan of a measured held-out point (allocated or uniform, model-wide).
    public func plan(of point: Point, path: String = "thresholds") throws -> SparsityPlan {
        point.uniform == true ? try uniform(byteSparsity: point.byteSparsity, modelWide: true, path: path)
                              : try allocate(byteSparsity: point.byteSparsity, modelWide: true, path: path)
    }

    /// The highest byte sparsity among the measured held-out points (allocated or uniform, model-wide) whose ΔNLL
    /// stays within `maxDeltaNLL` (the lower ΔNLL on a tie; dense when none does), as a plan.
    public func plan(budget maxDeltaNLL: Double, path: String = "thresholds") throws -> SparsityPlan {
        guard let heldOut, !heldOut.points.isEmpty else {
            throw ActSparseError.file(path: path, problem: "no held-out ΔNLL measurements: run `actsparse calibrate` " +
                "again (with --held-out > 0) to use a quality budget, or give --sparsity")
        }
        guard let point = ThresholdTable.best(heldOut.points, within: maxDeltaNLL) else {
            var d = SparsityPlan.dense(layers: layers)
            d.label = "budget ≤ +\(fmt(maxDeltaNLL)) nats: dense (no measured point within it)"
            return d
        }
        var p = try plan(of: point, path: path)
        p.label = "budget ≤ +\(fmt(maxDeltaNLL)) nats: \(p.label) (held-out ΔNLL \(String(format: "%+.3f", point.deltaNLL)))"
        return p
    }

    /// The point of highest byte sparsity with ΔNLL ≤ `limit` (the lower ΔNLL on a tie).
    public static func best(_ points: [Point], within limit: Double) -> Point? {
        points.filter { $0.deltaNLL <= limit }.max {
            ($0.byteSparsity, -$0.deltaNLL) < ($1.byteSparsity, -$1.deltaNLL)
        }
    }

    /// Weight bytes one decode token skips under `plan` (targets, every site).
    public func bytesSaved(_ plan: SparsityPlan) -> Int {
        guard let siteBytes else { return 0 }
        var saved = 0.0
        for l in 0..<min(layers, plan.sparsity.count) {
            for s in 0..<SparsitySite.allCases.count { saved += Double(siteBytes[l][s]) * plan.sparsity[l][s] }
        }
        return Int(saved)
    }
}

func fmt(_ v: Double) -> String { String(format: "%.2f", v) }

extension ThresholdTable {
    /// Measured (target, ΔNLL) pairs as a curve on `grid`: linear between them, the last slope beyond the last one,
    /// then made non-decreasing (a noisy dip never makes more sparsity look cheaper).
    public static func monotoneCurve(_ measured: [(Double, Double)], at grid: [Double]) -> [Double] {
        let pts = measured.sorted { $0.0 < $1.0 }
        var out = grid.map { x -> Double in
            guard let hi = pts.firstIndex(where: { $0.0 >= x }) else {
                guard pts.count >= 2 else { return pts.last?.1 ?? 0 }
                let (a, b) = (pts[pts.count - 2], pts[pts.count - 1])
                return b.1 + (x - b.0) * (b.1 - a.1) / max(b.0 - a.0, 1e-9)
            }
            if hi == 0 || pts[hi].0 == x { return pts[hi].1 }
            let (a, b) = (pts[hi - 1], pts[hi])
            return a.1 + (x - a.0) * (b.1 - a.1) / (b.0 - a.0)
        }
        for i in out.indices { out[i] = max(0, max(out[i], i > 0 ? out[i - 1] : 0)) }
        return out
    }
}
