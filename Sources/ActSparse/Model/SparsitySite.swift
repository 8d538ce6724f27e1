/// The linear-layer inputs of one block that can be thresholded (the LM head stays dense). Each site feeds one
/// or more FCs, which skip the rows of the channels it drops.
public enum SparsitySite: Int, CaseIterable, Codable, Sendable {
    /// the normed attention input [H] → q, k, v
    case attention
    /// the attention output [qDim] → the output projection o
    case output
    /// the normed MLP input [H] → gate, up
    case gateUp
    /// the gated activation [I] → down
    case down

    public var name: String {
        switch self {
        case .attention: "attention"
        case .output: "output"
        case .gateUp: "gate/up"
        case .down: "down"
        }
    }

    public var isMLP: Bool { self == .gateUp || self == .down }

    /// The sites of a scope: the MLP's two inputs, or every linear input of the block.
    public static func scope(modelWide: Bool) -> [SparsitySite] { modelWide ? allCases : [.gateUp, .down] }
}

/// Target sparsity of every site of every layer, and a line saying where it came from.
public struct SparsityPlan: Equatable, Sendable {
    /// [layer][site] target sparsity in [0, 1)
    public var sparsity: [[Double]]
    /// e.g. "budget ≤ +0.10 nats: allocated, model-wide"
    public var label: String

    public init(sparsity: [[Double]], label: String) {
        self.sparsity = sparsity
        self.label = label
    }

    /// Every layer the same: `gateUp` and `down` on the MLP inputs, `attention` on both attention inputs.
    public static func uniform(layers: Int, gateUp: Double, down: Double, attention: Double = 0,
                               label: String? = nil) -> SparsityPlan {
        let row = [attention, attention, gateUp, down]
        return SparsityPlan(sparsity: Array(repeating: row, count: layers),
                            label: label ?? "uniform \(pct(gateUp))/\(pct(down)) MLP"
                                + (attention > 0 ? ", \(pct(attention)) attention" : ""))
    }

    public static func dense(layers: Int) -> SparsityPlan {
        uniform(layers: layers, gateUp: 0, down: 0, label: "dense")
    }

    public var isDense: Bool { sparsity.allSatisfy { $0.allSatisfy { $0 == 0 } } }

    /// [site] sparsity averaged over the layers (what summaries print).
    public var layerMeans: [Double] {
        SparsitySite.allCases.map { s in sparsity.reduce(0) { $0 + $1[s.rawValue] } / Double(max(1, sparsity.count)) }
    }

    /// Σ bytes·sparsity / Σ bytes over every site, with `bytes` [layer][site] (the dense bytes each site's FCs read).
    public func byteSparsity(bytes: [[Int]]) -> Double {
        var saved = 0.0, total = 0.0
        for (l, row) in bytes.enumerated() where l < sparsity.count {
            for (s, b) in row.enumerated() where s < sparsity[l].count {
                saved += Double(b) * sparsity[l][s]
                total += Double(b)
            }
        }
        return total > 0 ? saved / total : 0
    }
}

func pct(_ v: Double) -> String { "\(Int((v * 100).rounded())) %" }
