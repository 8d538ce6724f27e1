import ActSparse

/// A Llama model whose MLPs are sharded over the ranks of `comm`; everything else runs on rank 0.
/// Rank 0 drives: before each forward it broadcasts a step header (stop / prefill M / decode), and the other
/// ranks, in `follow()`, run their MLP slices for every layer in the same order.
public final class DistributedLlama {
    public let comm: Communicator
    public let config: LlamaConfig
    public let gguf: GGUFFile
    /// The whole model on rank 0; nil elsewhere.
    public let model: LlamaModel?
    public let mlps: [DistributedMLP]

    enum Step: Int32 { case stop = 0, prefill = 1, decode = 2, thresholds = 3 }

    /// Every rank opens the same GGUF path and keeps only its MLP slices (rank 0 also the rest of the model).
    public init(comm: Communicator, path: String, mode: DistributedMLP.Mode, threads: Int,
                context: Int = 2048) throws {
        self.comm = comm
        let g = try GGUFFile(path: path)
        gguf = g
        config = try LlamaConfig(gguf: g)
        let c = config
        var ms: [DistributedMLP] = []
        let packing = GrowableBuffer()  // the layers run one after another: one prefill packing buffer
        for l in 0..<c.layers {
            let names = ["gate": "blk.\(l).ffn_gate.weight", "up": "blk.\(l).ffn_up.weight",
                         "down": "blk.\(l).ffn_down.weight"]
            let gateType = try g.tensor(names["gate"]!, dims: [c.hidden, c.intermediate]).type
            ms.append(try DistributedMLP(
                comm: comm, mode: mode, hidden: c.hidden, intermediate: c.intermediate,
                align: gateType.blockSize, threads: threads, packing: packing
            ) { name, rows, cols in
                let dims = name == "down" ? [c.intermediate, c.hidden] : [c.hidden, c.intermediate]
                return try g.plainWeights(try g.tensor(names[name]!, dims: dims), rows: rows, cols: cols)
            })
        }
        mlps = ms
        model = comm.isRoot ? try LlamaModel(gguf: g, threads: threads, context: context) { ms[$0] } : nil
    }

    func header(_ step: Step, _ m: Int = 0) throws {
        var h: SIMD2<Int32> = [step.rawValue, Int32(m)]
        h = try comm.broadcast(value: h)
    }

    // MARK: Rank 0

    /// Prefill of `tokens` (dense); returns the last position's logits.
    @discardableResult
    public func prefill(_ tokens: [Int32]) throws -> UnsafeMutablePointer<Float> {
        try header(.prefill, tokens.count)
        return try model!.prefill(tokens)
    }

    /// One decode step (sparse MLPs); returns the logits.
    @discardableResult
    public func decode(_ token: Int32) throws -> UnsafeMutablePointer<Float> {
        try header(.decode)
        return try model!.decode(token)
    }

    /// Releases the other ranks from `follow()`.
    public func stop() throws { try header(.stop) }

    // MARK: Other ranks

    /// Serves rank 0's steps until it says stop.
    public func follow() throws {
        while true {
            var h: SIMD2<Int32> = [0, 0]
            h = try comm.broadcast(value: h)
            switch Step(rawValue: h[0]) {
            case .stop: return
            case .prefill: for mlp in mlps { try mlp.prefill(nil, m: Int(h[1]), into: nil) }
            case .decode: for mlp in mlps { try mlp.decode(nil, into: nil) }
            case .thresholds: try receiveThresholds(nil)
            case nil: throw CommunicatorError.argument("unknown step \(h[0]) from rank 0")
            }
        }
    }

    // MARK: Thresholds and statistics

    /// Rank 0: sets every layer's thresholds on every rank from its table (nil or targets 0: dense).
    public func setThresholds(_ table: ThresholdTable?, gateUp sGU: Double, down sD: Double) throws {
        try header(.thresholds)
        try receiveThresholds(table.map { t in (0..<config.layers).map { t.thresholds(layer: $0, gateUp: sGU, down: sD) } })
    }

    func receiveThresholds(_ values: [(Float, Float)]?) throws {
        let n = config.layers
        var t = [Float](repeating: 0, count: 2 * n)
        if let values { for l in 0..<n { (t[2 * l], t[2 * l + 1]) = values[l] } }
        try comm.broadcast(&t, count: 2 * n, root: 0)
        for l in 0..<n { mlps[l].thresholdGateUp = t[2 * l]; mlps[l].thresholdDown = t[2 * l + 1] }
    }

    public func resetStats() { for m in mlps { m.resetStats() } }

    /// Realized sparsity averaged over layers (this rank's view; rank 0's for gate/up).
    public var realizedSparsity: (gateUp: Double, down: Double) {
        let s = mlps.map(\.realizedSparsity)
        return (s.map(\.gateUp).reduce(0, +) / Double(s.count), s.map(\.down).reduce(0, +) / Double(s.count))
    }

    /// Nanoseconds this rank spent in MLP collectives since `resetStats`.
    public var commNanos: UInt64 { mlps.map(\.commNanos).reduce(0, +) }
}
