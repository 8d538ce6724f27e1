import Foundation

/// Per-layer activation thresholds for a range of target sparsities, from `actsparse calibrate`: quantiles of |x|
/// of each MLP input (gate/up share one) over calibration tokens. `generate` and `eval` read it.
public struct ThresholdTable: Codable, Equatable, Sendable {
    public var model: String
    public var modelBytes: Int
    public var layers: Int
    public var hidden: Int
    public var intermediate: Int
    public var calibrationTokens: Int
    /// Target sparsities the columns below stand for, ascending (0 … 0.95).
    public var targets: [Double]
    /// [layer][target] threshold on |h|, the gate/up input
    public var gateUp: [[Float]]
    /// [layer][target] threshold on |a|, the down input
    public var down: [[Float]]

    public static let defaultTargets = (0...19).map { Double($0) * 0.05 }

    /// Thresholds of layer l for the given targets (linear between calibrated targets).
    public func thresholds(layer l: Int, gateUp sGU: Double, down sD: Double) -> (Float, Float) {
        (interpolate(gateUp[l], sGU), interpolate(down[l], sD))
    }

    func interpolate(_ row: [Float], _ s: Double) -> Float {
        guard s > 0 else { return 0 }
        guard let hi = targets.firstIndex(where: { $0 >= s }) else { return row.last ?? 0 }
        if targets[hi] == s || hi == 0 { return row[hi] }
        let f = Float((s - targets[hi - 1]) / (targets[hi] - targets[hi - 1]))
        return row[hi - 1] + f * (row[hi] - row[hi - 1])
    }

    /// Throws unless this table was made for a model of this shape (and file size).
    public func check(against c: LlamaConfig, modelBytes bytes: Int, path: String) throws {
        let found = "\(model), \(layers) layers, \(hidden)/\(intermediate), \(modelBytes) bytes"
        let expected = "\(c.name), \(c.layers) layers, \(c.hidden)/\(c.intermediate), \(bytes) bytes"
        guard layers == c.layers, hidden == c.hidden, intermediate == c.intermediate, modelBytes == bytes,
              gateUp.count == layers, down.count == layers,
              gateUp.allSatisfy({ $0.count == targets.count }), down.allSatisfy({ $0.count == targets.count })
        else {
            throw ActSparseError.file(path: path, problem: "thresholds are for another model: expected \(expected), found \(found)")
        }
    }

    public static func load(_ path: String) throws -> ThresholdTable {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ActSparseError.file(path: path, problem: "cannot read thresholds file")
        }
        return try decode(data, path: path)
    }

    /// A thresholds file's bytes, decoded and validated (`path` names it in errors).
    public static func decode(_ data: Data, path: String) throws -> ThresholdTable {
        let t: ThresholdTable
        do { t = try JSONDecoder().decode(ThresholdTable.self, from: data) } catch {
            throw ActSparseError.file(path: path, problem: "not a thresholds file: \(error)")
        }
        try t.validate(path: path)
        return t
    }

    /// Throws unless the counts agree, targets ascend strictly within [0, 1) and every threshold is finite and ≥ 0.
    public func validate(path: String) throws {
        guard layers >= 1, hidden >= 1, intermediate >= 1, calibrationTokens >= 0, modelBytes >= 0,
              gateUp.count == layers, down.count == layers else {
            throw ActSparseError.file(path: path, problem: "expected positive layers/hidden/intermediate and one " +
                "row per layer, found \(layers) layers, \(gateUp.count)/\(down.count) rows, hidden \(hidden), " +
                "intermediate \(intermediate)")
        }
        guard !targets.isEmpty, zip(targets, targets.dropFirst()).allSatisfy({ $0 < $1 }),
              targets.allSatisfy({ $0 >= 0 && $0 < 1 }) else {
            throw ActSparseError.file(path: path, problem: "targets: expected a non-empty, strictly ascending list " +
                                      "in [0, 1), found \(targets)")
        }
        for (name, rows) in [("gateUp", gateUp), ("down", down)] {
            for (l, row) in rows.enumerated() {
                guard row.count == targets.count, row.allSatisfy({ $0.isFinite && $0 >= 0 }) else {
                    throw ActSparseError.file(path: path, problem: "\(name)[\(l)]: expected \(targets.count) finite " +
                                              "thresholds ≥ 0, found \(row)")
                }
            }
        }
    }

    public func save(_ path: String) throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        try enc.encode(self).write(to: URL(fileURLWithPath: path))
    }
}

/// Collects |x| per layer and input in bounded memory (`QuantileSketch`, 256 KiB each), then turns the quantiles
/// into a `ThresholdTable`.
public final class ThresholdCalibrator {
    var gateUp: [QuantileSketch], down: [QuantileSketch]
    public private(set) var tokens = 0

    public init(layers: Int) {
        gateUp = Array(repeating: QuantileSketch(), count: layers)
        down = Array(repeating: QuantileSketch(), count: layers)
    }

    /// Adds rows [skip, m) of x [m, H] and a [m, I] of layer l (skip = 1 leaves out position 0's massive
    /// activations).
    public func add(layer l: Int, x: UnsafePointer<Float>, a: UnsafePointer<Float>, m: Int, hidden: Int,
                    intermediate: Int, skip: Int) {
        guard m > skip else { return }
        gateUp[l].add(x + skip * hidden, count: (m - skip) * hidden)
        down[l].add(a + skip * intermediate, count: (m - skip) * intermediate)
        if l == 0 { tokens += m - skip }
    }

    public func table(config c: LlamaConfig, modelBytes: Int,
                      targets: [Double] = ThresholdTable.defaultTargets) -> ThresholdTable {
        ThresholdTable(model: c.name, modelBytes: modelBytes, layers: c.layers, hidden: c.hidden,
                       intermediate: c.intermediate, calibrationTokens: tokens, targets: targets,
                       gateUp: gateUp.map { s in targets.map { s.quantile($0) } },
                       down: down.map { s in targets.map { s.quantile($0) } })
    }
}
