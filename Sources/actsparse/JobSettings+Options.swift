import ActSparse
import ActSparseDistributed
import Foundation

/// The settings each option group contributes to the ranks' agreement (JobSettings): what shapes the protocol or
/// the arithmetic. Threads, timeouts and paths may differ per rank; files are compared by content.
extension JobSettings {
    mutating func add(_ m: ModelOptions) {
        add("--shard", m.shard.rawValue)
        add("--mode", m.mode.rawValue)
        add("--context", m.context)
        add("--kv", m.kv.rawValue)
        add("--activations", m.activations.rawValue)
    }

    mutating func add(_ s: SparsityOptions, model: String) {
        add("--sparsity", s.sparsity.map { "\($0)" } ?? "-")
        add("--sparsity-gate-up", s.sparsityGateUp.map { "\($0)" } ?? "-")
        add("--sparsity-down", s.sparsityDown.map { "\($0)" } ?? "-")
        add("--scope", s.scope.rawValue)
        add("--budget", s.budget.map { "\($0)" } ?? "-")
        addThresholds(s.path(for: model))
    }

    /// A thresholds file by content (rank 0 reads it and sends the thresholds; a rank without the file cannot
    /// know, and only a different file on it is a difference).
    mutating func addThresholds(_ path: String) {
        add("thresholds (xxh64 of the file)", JobSettings.contentDigest(path))
    }

    /// XXH64 of a regular file no larger than a thresholds file may be, as hex; nil if there is no such file here.
    static func contentDigest(_ path: String) -> String? {
        guard let data = try? RegularFile.read(path, limit: ThresholdTable.fileLimit, what: "thresholds file") else { return nil }
        let h = data.withUnsafeBytes { ContentHash.xxh64($0) }
        return String(h, radix: 16)
    }
}
