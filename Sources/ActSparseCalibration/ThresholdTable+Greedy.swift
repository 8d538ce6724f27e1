import ActSparse

/// Calibration's allocation path (TEAL-style, on measured held-out loss); generate and eval only read its points.
extension ThresholdTable {
    /// The greedy path: from dense, raise by `step` the kind (of `kinds`) whose step costs the least measured
    /// loss per byte saved (`measure(levels)` returns the held-out (ΔNLL, KL) of a plan; the loss is `Point.cost`),
    /// until the byte sparsity reaches `maxByteSparsity`, every kind is at `maxSiteSparsity`, or the loss passes
    /// `stopAt`. Every step's measurement is a point of the path.
    /// `remaining(levels)`: told before every step, with the levels reached, so a caller can bound the work left
    /// (`greedyMeasurements`).
    public func greedyPath(kinds: [SparsitySite], step: Double = 0.1, maxByteSparsity: Double, stopAt: Double,
                           remaining: (([Double]) -> Void)? = nil,
                           measure: ([Double]) throws -> (deltaNLL: Double, kl: Double?)) rethrows -> [Point] {
        let b = kindBytes
        var levels = [0.0, 0, 0, 0], current = 0.0, points: [Point] = []
        while byteSparsity(levels: levels) < maxByteSparsity && current <= stopAt {
            remaining?(levels)
            var best: (ratio: Double, point: Point)?
            for site in kinds.map(\.rawValue) where levels[site] + step <= ThresholdTable.maxSiteSparsity + 1e-9 && b[site] > 0 {
                var next = levels
                next[site] += step
                let m = try measure(next)
                let p = Point(levels: next, byteSparsity: byteSparsity(levels: next), deltaNLL: m.deltaNLL, kl: m.kl)
                let ratio = (p.cost - current) / (b[site] * step)
                if best.map({ ratio < $0.ratio }) ?? true { best = (ratio, p) }
            }
            guard let pick = best else { break }
            levels = pick.point.levels
            current = pick.point.cost
            points.append(pick.point)
        }
        return points
    }

    /// At most how many measurements a greedy path over `kinds` still makes from `levels`: every step measures each
    /// kind that can still rise, and a step raises one kind by `step` until every kind is at `maxSiteSparsity` or the
    /// byte sparsity reaches `maxByteSparsity` (each step adds at least the smallest kind's share).
    public func greedyMeasurements(kinds: [SparsitySite], from levels: [Double], step: Double = 0.1,
                                   maxByteSparsity: Double) -> Int {
        let b = kindBytes
        var left = kinds.map { site -> Int in
            guard b[site.rawValue] > 0 else { return 0 }
            return max(0, Int(((ThresholdTable.maxSiteSparsity - levels[site.rawValue]) / step + 1e-9).rounded(.down)))
        }
        let share = kinds.map { b[$0.rawValue] * step }.filter { $0 > 0 }.min() ?? 1
        var steps = Int(((maxByteSparsity - byteSparsity(levels: levels)) / share).rounded(.up))
        var total = 0
        while steps > 0, left.contains(where: { $0 > 0 }) {
            total += left.filter { $0 > 0 }.count
            // The cheapest kind to bound: the one with the most steps left rises (the count of candidates falls last).
            if let k = left.indices.max(by: { left[$0] < left[$1] }) { left[k] -= 1 }
            steps -= 1
        }
        return total
    }
}
