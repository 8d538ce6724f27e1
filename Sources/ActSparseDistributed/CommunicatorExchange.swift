import ActSparse

/// A sharded `LlamaModel`'s collectives over a communicator: all-reduce and all-gather across every rank.
final class CommunicatorExchange: ModelExchange {
    let comm: Communicator
    init(_ comm: Communicator) { self.comm = comm }

    func sum(_ x: UnsafeMutablePointer<Float>, count: Int) throws {
        try checked(x, count: count, "partial attention output") { try comm.allReduceSum(x, into: x, count: count) }
    }

    func gather(_ part: UnsafePointer<Float>, count: Int, into out: UnsafeMutablePointer<Float>, counts: [Int]) throws {
        try checked(part, count: count, "attention output") { try comm.allGatherv(part, count: count, into: out, counts: counts) }
    }

    /// A NaN or ∞ is reported by the rank that made it, before it spreads.
    func checked(_ x: UnsafePointer<Float>, count: Int, _ what: String, _ body: () throws -> Void) throws {
        if let bad = Finite.firstBad(x, count: count) {
            throw ProtocolError(layer: nil, step: "attention", problem: "\(what)[\(bad)] computed on this rank is \(x[bad])")
        }
        try body()
    }
}
