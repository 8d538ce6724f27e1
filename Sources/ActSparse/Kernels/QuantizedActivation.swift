import CActSparse

/// One token's kept channels quantized to int8 per weight group, laid out as the int8 GEMV reads them
/// (`actsparse_q8_job`): non-empty groups only, each group's kept rows padded to a multiple of 4 (VNNI sums
/// four products per lane) by repeating its last row with a zero value. Allocated once per (activation, group).
final class QuantizedActivation {
    let width: Int, group: Int
    /// [width + 3·groups] kept channel indices, group by group, padded (see above)
    let rows: UnsafeMutablePointer<Int32>
    /// [width + 3·groups] int8 values q, x̂ = xs·q (0 for padding)
    let q: UnsafeMutablePointer<Int8>
    /// [groups] per non-empty group: group index, start in rows/q, padded length, Σq
    let gid: UnsafeMutablePointer<Int32>, gstart: UnsafeMutablePointer<Int32>
    let glen: UnsafeMutablePointer<Int32>, gsum: UnsafeMutablePointer<Int32>
    /// [groups] per non-empty group: scale xs = max|x| / 127 and Σx̂ = xs·Σq
    let gxs: UnsafeMutablePointer<Float>, gsx: UnsafeMutablePointer<Float>
    /// Non-empty groups held.
    private(set) var groups = 0
    /// The `SparseActivation.generation` these values were made from (−1: none yet).
    var generation = -1

    init(width: Int, group: Int) {
        self.width = width
        self.group = max(1, group)
        let n = (width + self.group - 1) / self.group
        let padded = width + 3 * n + 4
        rows = .allocate(capacity: padded)
        q = .allocate(capacity: padded)
        gid = .allocate(capacity: n + 1); gstart = .allocate(capacity: n + 1)
        glen = .allocate(capacity: n + 1); gsum = .allocate(capacity: n + 1)
        gxs = .allocate(capacity: n + 1); gsx = .allocate(capacity: n + 1)
    }

    deinit {
        rows.deallocate(); q.deallocate(); gid.deallocate(); gstart.deallocate(); glen.deallocate()
        gsum.deallocate(); gxs.deallocate(); gsx.deallocate()
    }

    /// Quantizes the kept channels of `a` (ascending indices < width): q = round(x / xs) in −127…127.
    func quantize(_ a: SparseActivation) {
        let idx = a.indices, val = a.values, n = a.count
        var k = 0, out = 0, gi = 0
        while k < n {
            let g = Int(idx[k]) / group, end = Int32(truncatingIfNeeded: (g + 1) * group)
            var k1 = k, amax: Float = 0
            while k1 < n && idx[k1] < end { amax = max(amax, abs(val[k1])); k1 += 1 }
            let xs = amax / 127, inv = amax > 0 ? 127 / amax : 0
            var sum: Int32 = 0
            for j in k..<k1 {
                let r = (val[j] * inv).rounded()  // |x·inv| ≤ 127 up to rounding; a NaN (never kept) gives 0
                let v: Int8 = r >= 127 ? 127 : r <= -127 ? -127 : r == r ? Int8(r) : 0
                rows[out + j - k] = idx[j]
                q[out + j - k] = v
                sum &+= Int32(v)
            }
            var len = k1 - k
            while len & 3 != 0 { rows[out + len] = idx[k1 - 1]; q[out + len] = 0; len += 1 }
            gid[gi] = Int32(g); gstart[gi] = Int32(out); glen[gi] = Int32(len); gsum[gi] = sum
            gxs[gi] = xs; gsx[gi] = xs * Float(sum)
            out += len; gi += 1; k = k1
        }
        groups = gi
    }
}
