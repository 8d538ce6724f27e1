import ActSparse

/// Calibration's allocation path (TEAL-style, on measured held-out loss); generate and eval only read its points.
extension ThresholdTable {
    /// The greedy path: from dense, raise by `step` the kind (of `kinds`) whose step costs the least measured
    /// loss per byte saved (`measure(levels)` returns the held-out (ΔNLL, KL) of a plan; the loss is `Point.cost`),
    /// until the byte sparsity reaches `maxByteSparsity`, every kind is at `maxSiteSparsity`, or the loss passes
    /// `stopAt`. Every step's measurement is a point of the path.
    public func greedyPath(kinds: [SparsitySite], step: Double = 0.1, maxByteSparsity: Double, stopAt: Double,
                           measure: ([Double]) throws -> (deltaNLL: Double, kl: Double?)) rethrows -> [Point] {
        let b = kindBytes
        var levels = [0.0, 0, 0, 0], current = 0.0, points: [Point] = []
        while byteSparsity(levels: levels) < maxByteSparsity && current <= stopAt {
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
}
