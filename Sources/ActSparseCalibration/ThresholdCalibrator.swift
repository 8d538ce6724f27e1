import ActSparse

/// Collects |x| of every thresholded input of every layer in bounded memory (`QuantileSketch`, 256 KiB each),
/// then turns the quantiles into a `ThresholdTable`.
public final class ThresholdCalibrator {
    /// [layer][site]
    var sketches: [[QuantileSketch]]
    public private(set) var tokens = 0

    public init(layers: Int) {
        sketches = Array(repeating: Array(repeating: QuantileSketch(), count: SparsitySite.allCases.count), count: layers)
    }

    /// Adds rows [skip, m) of x [m, width], the input `site` of layer l (skip = 1 leaves out position 0's massive
    /// activations). Tokens are counted on layer 0's gate/up input.
    public func add(layer l: Int, site: SparsitySite, x: UnsafePointer<Float>, m: Int, width: Int, skip: Int) {
        guard m > skip, l >= 0, l < sketches.count else { return }
        sketches[l][site.rawValue].add(x + skip * width, count: (m - skip) * width)
        if l == 0 && site == .gateUp { tokens += m - skip }
    }

    /// Adds columns `columns` of rows [skip, m) of x [m, width]: this rank's share of an input every rank sees.
    public func add(layer l: Int, site: SparsitySite, x: UnsafePointer<Float>, m: Int, width: Int, skip: Int,
                    columns: Range<Int>) {
        guard m > skip, l >= 0, l < sketches.count, columns.lowerBound >= 0, columns.upperBound <= width else { return }
        if columns.count == width { return add(layer: l, site: site, x: x, m: m, width: width, skip: skip) }
        for r in skip..<m where !columns.isEmpty {
            sketches[l][site.rawValue].add(x + r * width + columns.lowerBound, count: columns.count)
        }
        if l == 0 && site == .gateUp { tokens += m - skip }
    }

    /// The MLP's two inputs at once: x [m, H] and a [m, I].
    public func add(layer l: Int, x: UnsafePointer<Float>, a: UnsafePointer<Float>, m: Int, hidden: Int,
                    intermediate: Int, skip: Int) {
        add(layer: l, site: .gateUp, x: x, m: m, width: hidden, skip: skip)
        add(layer: l, site: .down, x: a, m: m, width: intermediate, skip: skip)
    }

    /// Whether any attention input was added (then the table is model-wide).
    var sawAttention: Bool { sketches.contains { $0[SparsitySite.attention.rawValue].samples > 0 } }

    /// [layer][target] thresholds of one site.
    public func quantiles(_ site: SparsitySite, targets: [Double]) -> [[Float]] {
        sketches.map { s in targets.map { s[site.rawValue].quantile($0) } }
    }

    public func table(config c: LlamaConfig, modelBytes: Int,
                      targets: [Double] = ThresholdTable.defaultTargets) -> ThresholdTable {
        let wide = sawAttention
        return ThresholdTable(model: c.name, modelBytes: modelBytes, layers: c.layers, hidden: c.hidden,
                              intermediate: c.intermediate, calibrationTokens: tokens, targets: targets,
                              gateUp: quantiles(.gateUp, targets: targets), down: quantiles(.down, targets: targets),
                              attention: wide ? quantiles(.attention, targets: targets) : nil,
                              output: wide ? quantiles(.output, targets: targets) : nil)
    }
}
