import Foundation

/// Per-layer activation thresholds for a range of target sparsities, from `actsparse calibrate`: quantiles of |x|
/// of each thresholded input over calibration tokens. Version 2 adds the attention inputs, the measured output
/// error of every site at every target, and the ΔNLL measured on a held-out slice of the calibration text along
/// uniform and greedily allocated paths (what a quality budget picks from).
/// `generate` and `eval` read it; a version-1 file (MLP inputs only) still loads.
public struct ThresholdTable: Codable, Equatable, Sendable {
    public var version: Int?
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
    /// [layer][target] threshold on the attention input (q/k/v) and on the output projection's input (version 2)
    public var attention: [[Float]]?
    public var output: [[Float]]?
    /// [layer][site] weight bytes the site's FCs read per dense token (the allocator's byte weights)
    public var siteBytes: [[Int]]?
    /// [layer][site][target] relative output error of the site's FCs when only that site is thresholded:
    /// Σ‖(x ⊙ dropped) W‖² / Σ‖x W‖² over calibration tokens (what a per-layer split within a kind trades)
    public var outputError: [[[Double]]]?
    /// Measured ΔNLL on the held-out slice along the uniform and the allocated paths
    public var heldOut: HeldOut?
    /// The quality budget asked for at calibration (`--max-delta-nll`) and the byte sparsity it allows
    public var budget: Budget?

    public struct HeldOut: Codable, Equatable, Sendable {
        public var tokens: Int
        public var denseNLL: Double
        /// every site at the same sparsity, ascending
        public var uniform: [Point]
        /// the greedy path over input kinds, every linear input (each step measured), ascending
        public var allocated: [Point]
        /// the same greedy over the MLP's two inputs only, ascending
        public var allocatedMLP: [Point]
        /// The held-out text by register (prose, dialogue, code, …), in the order of `Point.registers`; nil: one
        /// undivided slice (files calibrated before registers)
        public var registers: [Register]?
        /// Free-running text of the dense model on the check prompts (what a plan's repetition is compared with)
        public var denseText: Repetition?
        public init(tokens: Int, denseNLL: Double, uniform: [Point], allocated: [Point], allocatedMLP: [Point],
                    registers: [Register]? = nil, denseText: Repetition? = nil) {
            self.tokens = tokens; self.denseNLL = denseNLL; self.uniform = uniform; self.allocated = allocated
            self.allocatedMLP = allocatedMLP; self.registers = registers; self.denseText = denseText
        }
        /// The paths a budget picks from.
        public var paths: [[Point]] { [uniform, allocated, allocatedMLP] }
    }

    /// One register of the held-out text: its name, scored tokens and dense NLL.
    public struct Register: Codable, Equatable, Sendable {
        public var name: String
        public var tokens: Int
        public var denseNLL: Double
        public init(name: String, tokens: Int, denseNLL: Double) { self.name = name; self.tokens = tokens; self.denseNLL = denseNLL }
    }

    /// One measured plan: each input kind at `levels[site]` in every layer.
    public struct Point: Codable, Equatable, Sendable {
        /// [site] sparsity of each input kind
        public var levels: [Double]
        /// Σ bytes · sparsity / Σ bytes over every linear input
        public var byteSparsity: Double
        /// held-out NLL − dense NLL
        public var deltaNLL: Double
        /// mean KL(dense ‖ plan) of the predictions over the held-out positions
        public var kl: Double?
        /// [register] the loss (the larger of ΔNLL and KL) on each register of the held-out text
        public var registers: [Double]?
        /// Free-running text under this plan on the check prompts, when it was checked
        public var text: Repetition?
        /// Whether that text degenerates where the dense model's does not (`Repetition.degenerates`)
        public var degenerates: Bool?
        public init(levels: [Double], byteSparsity: Double, deltaNLL: Double, kl: Double? = nil,
                    registers: [Double]? = nil) {
            self.levels = levels; self.byteSparsity = byteSparsity; self.deltaNLL = deltaNLL; self.kl = kl
            self.registers = registers
        }
        /// What a budget and the greedy compare: the larger of ΔNLL and KL, on the worst register. ΔNLL on a few
        /// hundred tokens is noisy and can even fall when predictions move (Gemma-3 on the calibration text: −0.2
        /// where the evaluation text says +0.6); KL cannot. One mean over all registers hid code and lists
        /// behind prose. A plan whose free-running text degenerates costs +∞: out of every budget.
        public var cost: Double {
            if degenerates == true { return .infinity }
            return max(deltaNLL, kl ?? deltaNLL, registers?.max() ?? -.infinity)
        }
    }

    public struct Budget: Codable, Equatable, Sendable {
        public var maxDeltaNLL: Double
        public var byteSparsity: Double
        /// the chosen point's loss (`Point.cost`: the larger of ΔNLL and KL)
        public var deltaNLL: Double
        /// Weight bytes a decode token skips at this point (all sites; the LM head is dense)
        public var bytesSavedPerToken: Int
        /// Plans within the loss budget left out because their free-running text degenerated
        public var degenerateSkipped: Int?
        public init(maxDeltaNLL: Double, byteSparsity: Double, deltaNLL: Double, bytesSavedPerToken: Int,
                    degenerateSkipped: Int? = nil) {
            self.maxDeltaNLL = maxDeltaNLL; self.byteSparsity = byteSparsity; self.deltaNLL = deltaNLL
            self.bytesSavedPerToken = bytesSavedPerToken; self.degenerateSkipped = degenerateSkipped
        }
    }

    public static let defaultTargets = (0...19).map { Double($0) * 0.05 }
    public static let currentVersion = 2

    public init(model: String, modelBytes: Int, layers: Int, hidden: Int, intermediate: Int, calibrationTokens: Int,
                targets: [Double], gateUp: [[Float]], down: [[Float]], attention: [[Float]]? = nil,
                output: [[Float]]? = nil) {
        self.version = attention == nil ? nil : ThresholdTable.currentVersion
        self.model = model; self.modelBytes = modelBytes; self.layers = layers; self.hidden = hidden
        self.intermediate = intermediate; self.calibrationTokens = calibrationTokens; self.targets = targets
        self.gateUp = gateUp; self.down = down; self.attention = attention; self.output = output
    }

    /// [layer][target] thresholds of `site` (nil: a version-1 file has no attention sites).
    public func rows(_ site: SparsitySite) -> [[Float]]? {
        switch site {
        case .attention: attention
        case .output: output
        case .gateUp: gateUp
        case .down: down
        }
    }

    /// Whether this table can threshold the attention inputs too.
    public var modelWide: Bool { attention != nil && output != nil }

    /// Thresholds of layer l for the given MLP targets (linear between calibrated targets).
    public func thresholds(layer l: Int, gateUp sGU: Double, down sD: Double) -> (Float, Float) {
        (interpolate(gateUp[l], sGU), interpolate(down[l], sD))
    }

    /// [layer][site] thresholds of a plan. Throws if it asks for attention sites this table does not have.
    public func thresholds(_ plan: SparsityPlan, path: String = "thresholds") throws -> [[Float]] {
        guard plan.sparsity.count == layers, plan.sparsity.allSatisfy({ $0.count == SparsitySite.allCases.count }) else {
            throw ActSparseError.shape(what: "sparsity plan", expected: "\(layers) layers × 4 sites",
                                       found: "\(plan.sparsity.count) layers")
        }
        return try (0..<layers).map { l in
            try SparsitySite.allCases.map { site in
                let s = plan.sparsity[l][site.rawValue]
                guard s > 0 else { return 0 }
                guard let rows = rows(site) else {
                    throw ActSparseError.file(path: path, problem: "no \(site.name) thresholds (a version-1 file): " +
                        "run `actsparse calibrate` again for model-wide sparsity")
                }
                return interpolate(rows[l], s)
            }
        }
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

    /// Thresholds files are small (130 kB for a 30-layer model); more than this is not one.
    public static let fileLimit = 16 << 20

    public static func load(_ path: String) throws -> ThresholdTable {
        try decode(try RegularFile.read(path, limit: fileLimit, what: "thresholds file"), path: path)
    }

    /// A thresholds file's bytes, decoded and validated (`path` names it in errors).
    public static func decode(_ data: Data, path: String) throws -> ThresholdTable {
        let t: ThresholdTable
        guard data.count <= fileLimit else {
            throw ActSparseError.file(path: path, problem: "thresholds file of \(data.count) bytes: expected at most \(fileLimit)")
        }
        do { t = try JSONDecoder().decode(ThresholdTable.self, from: data) } catch {
            throw ActSparseError.file(path: path, problem: "not a thresholds file: \(JSONDiagnostics.describe(error, in: data))")
        }
        try t.validate(path: path)
        return t
    }

    /// Throws unless the counts agree, targets ascend strictly within [0, 1), every threshold is finite and ≥ 0,
    /// and the version-2 fields (when present) have one entry per layer, site and target, all finite.
    public func validate(path: String) throws {
        func bad(_ problem: String) -> Error { ActSparseError.file(path: path, problem: problem) }
        guard layers >= 1, hidden >= 1, intermediate >= 1, calibrationTokens >= 0, modelBytes >= 0,
              gateUp.count == layers, down.count == layers else {
            throw bad("expected positive layers/hidden/intermediate and one row per layer, found \(layers) layers, " +
                      "\(gateUp.count)/\(down.count) rows, hidden \(hidden), intermediate \(intermediate)")
        }
        guard !targets.isEmpty, zip(targets, targets.dropFirst()).allSatisfy({ $0 < $1 }),
              targets.allSatisfy({ $0 >= 0 && $0 < 1 }) else {
            throw bad("targets: expected a non-empty, strictly ascending list in [0, 1), found \(targets)")
        }
        if let version, version < 1 || version > ThresholdTable.currentVersion {
            throw bad("version: expected 1...\(ThresholdTable.currentVersion), found \(version)")
        }
        guard (attention == nil) == (output == nil) else { throw bad("attention and output: expected both or neither") }
        for site in SparsitySite.allCases {
            guard let rows = rows(site) else { continue }
            guard rows.count == layers else { throw bad("\(site.name): expected \(layers) rows, found \(rows.count)") }
            for (l, row) in rows.enumerated() {
                guard row.count == targets.count, row.allSatisfy({ $0.isFinite && $0 >= 0 }) else {
                    throw bad("\(site.name)[\(l)]: expected \(targets.count) finite thresholds ≥ 0, found \(row)")
                }
            }
        }
        let sites = SparsitySite.allCases.count
        if let siteBytes {
            guard siteBytes.count == layers,
                  siteBytes.allSatisfy({ $0.count == sites && $0.allSatisfy { $0 >= 0 && $0 <= 1 << 44 } }) else {
                throw bad("siteBytes: expected \(layers) rows of \(sites) byte counts in 0...2^44")
            }
        }
        if let outputError {
            guard outputError.count == layers, outputError.allSatisfy({ row in
                row.count == sites && row.allSatisfy { $0.count == targets.count && $0.allSatisfy { $0.isFinite && $0 >= 0 } }
            }) else {
                throw bad("outputError: expected \(layers) × \(sites) × \(targets.count) finite values ≥ 0")
            }
        }
        if let heldOut {
            guard heldOut.tokens >= 0, heldOut.denseNLL.isFinite else { throw bad("heldOut: expected a finite dense NLL") }
            for (name, path) in [("uniform", heldOut.uniform), ("allocated", heldOut.allocated),
                                 ("allocatedMLP", heldOut.allocatedMLP)] {
                guard path.allSatisfy({ p in
                    p.deltaNLL.isFinite && (p.kl.map { $0.isFinite && $0 >= 0 } ?? true)
                        && (0..<1).contains(p.byteSparsity) && p.levels.count == sites
                        && p.levels.allSatisfy { (0..<1).contains($0) }
                }), zip(path, path.dropFirst()).allSatisfy({ $0.byteSparsity < $1.byteSparsity }) else {
                    throw bad("heldOut.\(name): expected points with \(sites) levels in [0, 1), finite ΔNLL and KL ≥ 0, " +
                              "ascending byte sparsity")
                }
            }
        }
        if let budget {
            guard budget.maxDeltaNLL.isFinite, budget.deltaNLL.isFinite, (0..<1).contains(budget.byteSparsity),
                  budget.bytesSavedPerToken >= 0 else { throw bad("budget: expected finite values, sparsity in [0, 1)") }
        }
    }

    public func save(_ path: String) throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        try enc.encode(self).write(to: URL(fileURLWithPath: path))
    }
}
