/// An MLP block as the model sees it. The distributed MLP (ActSparseMPI) implements it; `h`/`x` and `out` are
/// only read/written on the rank that runs the rest of the model (nil elsewhere), or on every rank when the
/// whole model is sharded (the residual stream is replicated).
public protocol FeedForward: AnyObject {
    /// out[H] = MLP(h[H]) for one token (sparse decode).
    func decode(_ h: UnsafePointer<Float>?, into out: UnsafeMutablePointer<Float>?) throws
    /// out[M, H] = MLP(x[M, H]) (dense prefill).
    func prefill(_ x: UnsafePointer<Float>?, m: Int, into out: UnsafeMutablePointer<Float>?) throws
    /// The FCs this block holds (this rank's slices): model-wide settings such as `SparseFC.activations` reach them.
    var linears: [SparseFC] { get }
}
