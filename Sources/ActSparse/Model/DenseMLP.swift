/// A dense gated MLP of one GGUF layer in one process, every channel kept: out = down(act(gate(h)) ⊙ up(h)).
/// The reference the sparse path must equal bit for bit at threshold 0, and the MLP of the fuzzer's model.
public final class DenseMLP: FeedForward {
    /// [H, I], [H, I], [I, H]
    let gate: SparseFC, up: SparseFC, down: SparseFC
    /// all channels of h (width H) and of a (width I)
    let h: SparseActivation, a: SparseActivation
    /// [I] gate output (then a in place), up output
    let g: UnsafeMutablePointer<Float>, u: UnsafeMutablePointer<Float>
    let hidden: Int, intermediate: Int
    public var linears: [SparseFC] { [gate, up, down] }
    /// silu (SwiGLU) or GELU (GeGLU): the family's
    let activation: GatedActivation

    public init(gguf file: GGUFFile, layer l: Int, config c: LlamaConfig, threads: Int) throws {
        func fc(_ n: TensorName.Layer, _ ic: Int, _ oc: Int) throws -> SparseFC {
            try SparseFC(weights: try file.plainWeights(try file.tensor(n.of(l), dims: [ic, oc])),
                     threads: threads)
        }
        gate = try fc(.gate, c.hidden, c.intermediate)
        up = try fc(.up, c.hidden, c.intermediate)
        down = try fc(.down, c.intermediate, c.hidden)
        hidden = c.hidden
        intermediate = c.intermediate
        activation = c.architecture.activation
        h = SparseActivation(width: c.hidden)
        a = SparseActivation(width: c.intermediate)
        g = .allocate(capacity: c.intermediate)
        u = .allocate(capacity: c.intermediate)
    }

    deinit { g.deallocate(); u.deallocate() }

    public func decode(_ x: UnsafePointer<Float>?, into out: UnsafeMutablePointer<Float>?) throws {
        guard let x, let out else { throw ActSparseError.invalidValue(what: "DenseMLP input", expected: "h and out", found: "nil") }
        try h.keepAll(x, count: hidden)
        try gate.decode(h, into: g)
        try up.decode(h, into: u)
        activation.apply(gate: g, up: u, into: g, count: intermediate)
        try a.keepAll(g, count: intermediate)
        try down.decode(a, into: out)
    }

    /// Row by row through `decode` (a reference, not a fast prefill).
    public func prefill(_ x: UnsafePointer<Float>?, m: Int, into out: UnsafeMutablePointer<Float>?) throws {
        guard let x, let out else { throw ActSparseError.invalidValue(what: "DenseMLP input", expected: "x and out", found: "nil") }
        for r in 0..<m { try decode(x + r * hidden, into: out + r * hidden) }
    }
}
