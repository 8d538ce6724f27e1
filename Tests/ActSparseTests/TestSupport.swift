import ActSparse
@_exported import ActSparseTestSupport
import Testing

/// |a − b| ≤ atol + rtol·scale[i] for every element; scale is Σ|x·w| per output (the sum's magnitude).
func expectClose(_ a: [Float], _ b: [Float], scale: [Float], rtol: Float, atol: Float = 1e-6,
                 _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(a.count == b.count, "\(what): count \(a.count) vs \(b.count)", sourceLocation: sourceLocation)
    var worst = 0, worstErr: Float = 0
    for i in 0..<min(a.count, b.count) {
        let err = abs(a[i] - b[i]) / (atol + rtol * scale[i])
        if !(err <= worstErr) { worstErr = err; worst = i }
    }
    #expect(worstErr <= 1, "\(what): element \(worst) \(a[worst]) vs \(b[worst]) (\(worstErr)× tolerance)",
            sourceLocation: sourceLocation)
}

/// Σ over kept i of |x[i]·W[i, o]|: the magnitude the rounding error of an output scales with.
func magnitude(_ w: PlainWeights, kept: [(Int, Float)]) -> [Float] {
    var s = [Float](repeating: 0, count: w.oc)
    for (i, x) in kept { for o in 0..<w.oc { s[o] += abs(x * w.weight(i, o)) } }
    return s
}

/// Every format, with the group sizes a test should cover.
let allFormats: [WeightFormat] = [
    try! WeightFormat(.f32), try! WeightFormat(.f16), try! WeightFormat(.bf16),
    try! WeightFormat(.int8sym), try! WeightFormat(.int8asym), try! WeightFormat(.int8group, group: 32),
    try! WeightFormat(.int4sym, group: 32), try! WeightFormat(.int4sym, group: 64),
    try! WeightFormat(.int4asym, group: 32), try! WeightFormat(.int4asym, group: 128),
    try! WeightFormat(.int5sym, group: 32), try! WeightFormat(.int5asym, group: 64),
    try! WeightFormat(.q4k), try! WeightFormat(.q5k), try! WeightFormat(.q6k),
]

/// Shapes with tails: OC not a multiple of 16/32, IC odd for ungrouped formats, IC/G odd for grouped ones.
func shapes(for f: WeightFormat) -> [(ic: Int, oc: Int)] {
    let g = f.group
    if f.traits.superBlock > 0 { return [(256, 37), (256, 1), (512, 100), (768, 64), (256, 289)] }
    if g > 0 { return [(3 * g, 37), (g, 1), (5 * g, 100), (3 * g, 64), (g, 289)] }
    return [(67, 37), (1, 1), (33, 100), (16, 64), (45, 289)]
}
