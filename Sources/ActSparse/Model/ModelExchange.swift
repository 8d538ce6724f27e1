/// The collectives a sharded `LlamaModel` needs between its blocks (ActSparse never imports MPI: ActSparseMPI
/// adapts its communicator to this). Every rank calls them in the same order.
public protocol ModelExchange: AnyObject {
    /// x[0..<count] = Σ over ranks of x, on every rank.
    func sum(_ x: UnsafeMutablePointer<Float>, count: Int) throws
    /// out = every rank's `part` (counts[r] floats from rank r) in rank order, on every rank.
    func gather(_ part: UnsafePointer<Float>, count: Int, into out: UnsafeMutablePointer<Float>, counts: [Int]) throws
}
