import ActSparse
import ActSparseDistributed

/// Measures how much each site's FC outputs change when the channels under each calibrated threshold are
/// dropped: for every layer, site and target, Σ‖(x ⊙ dropped) W‖² / Σ‖x W‖² over calibration tokens, summed over
/// the FCs the site feeds. By linearity (x ⊙ dropped) W is exactly the error the sparse GEMV makes. This is what
/// the allocator trades against bytes; one dense GEMM per target and FC (prefill kernels), on dense inputs.
public final class OutputErrorProbe {
    public let targets: [Double]
    /// [layer][site][target] Σ‖(x ⊙ dropped) W‖²
    var dropped: [[[Double]]]
    /// [layer][site] Σ‖x W‖²
    var dense: [[Double]]
    /// [m, width] the dropped part of x; [m, oc] an FC's output
    let xd = GrowableBuffer(), y = GrowableBuffer()

    public init(layers: Int, targets: [Double]) {
        self.targets = targets
        let sites = SparsitySite.allCases.count
        dropped = Array(repeating: Array(repeating: Array(repeating: 0, count: targets.count), count: sites), count: layers)
        dense = Array(repeating: Array(repeating: 0, count: sites), count: layers)
    }

    /// Rows [skip, m) of x [m, width], the input `site` of layer l feeding `fcs` (each [width, oc]);
    /// `thresholds` [target] are the table's thresholds of this site and layer.
    /// Under whole-model shards (gather mode: every FC an OC slice of an input every rank holds whole) each rank
    /// adds its own FCs' output columns and `merge` sums them: `columns` [fc] (nil: all) are the columns that count
    /// on this rank (a KV head several ranks hold counts on one).
    public func add(layer l: Int, site: SparsitySite, x: UnsafePointer<Float>, m: Int, width: Int, skip: Int,
                    fcs: [SparseFC], columns: [Range<Int>]? = nil, thresholds: [Float]) throws {
        guard m > skip, l >= 0, l < dense.count, thresholds.count == targets.count else { return }
        let rows = m - skip, xs = x + skip * width, s = site.rawValue
        let maxOC = fcs.map(\.oc).max() ?? 0
        let out = try y.floats(rows * maxOC), part = try xd.floats(rows * width)
        func energy(_ input: UnsafePointer<Float>) throws -> Double {
            var e = 0.0
            for (k, fc) in fcs.enumerated() {
                guard fc.weights.ic == width else {
                    throw ActSparseError.shape(what: "probed FC", expected: "IC \(width)", found: "\(fc.weights.ic)")
                }
                try fc.prefill(input, m: rows, into: out)
                let cols = columns?[k] ?? 0..<fc.oc
                guard cols.lowerBound >= 0, cols.upperBound <= fc.oc else {
                    throw ActSparseError.shape(what: "probed columns", expected: "within 0..<\(fc.oc)", found: "\(cols)")
                }
                var acc: Float = 0, total = 0.0
                for r in 0..<rows {
                    for j in cols { acc += out[r * fc.oc + j] * out[r * fc.oc + j] }
                    total += Double(acc); acc = 0
                }
                e += total
            }
            return e
        }
        dense[l][s] += try energy(xs)
        var last: (t: Float, e: Double)?
        for (k, t) in thresholds.enumerated() where targets[k] > 0 {
            if let last, last.t == t { dropped[l][s][k] += last.e; continue }
            var any = false
            for i in 0..<(rows * width) {
                let v = xs[i]
                let keep = abs(v) > t
                part[i] = keep ? 0 : v
                any = any || !keep
            }
            let e = any ? try energy(part) : 0
            dropped[l][s][k] += e
            last = (t, e)
        }
    }

    /// [layer][site][target] relative output error (0 where a site saw no tokens or has no output energy).
    public var relativeError: [[[Double]]] {
        dropped.enumerated().map { l, sites in
            sites.enumerated().map { s, row in row.map { dense[l][s] > 0 ? $0 / dense[l][s] : 0 } }
        }
    }

    /// Rank 0 gets every rank's sums in one reduce (floats: ~7 digits, plenty for a relative error). The others
    /// keep theirs.
    public func merge(_ comm: Communicator) throws {
        guard comm.size > 1 else { return }
        let flat = dense.flatMap { $0 } + dropped.flatMap { $0.flatMap { $0 } }
        let send = flat.map(Float.init)
        var sum = [Float](repeating: 0, count: comm.isRoot ? send.count : 1)
        try sum.withUnsafeMutableBufferPointer { out in
            try comm.reduceSum(send, into: comm.isRoot ? out.baseAddress : nil, count: send.count, root: 0)
        }
        guard comm.isRoot else { return }
        var k = 0
        for l in dense.indices { for s in dense[l].indices { dense[l][s] = Double(sum[k]); k += 1 } }
        for l in dropped.indices { for s in dropped[l].indices { for t in dropped[l][s].indices { dropped[l][s][t] = Double(sum[k]); k += 1 } } }
    }
}
