/// A gated MLP in one process, sparse in decode: out = down(act(gate(h)) ⊙ up(h)), reading only the weight rows of
/// the channels with |h| > `thresholdGateUp` (gate, up) and |a| > `thresholdDown` (down). Prefill is dense unless
/// `thresholdPrefill`. At thresholds 0 it equals `DenseMLP` bit for bit.
///
/// The distributed MLP composes one per rank, holding that rank's slices; it runs the two halves (`gateUp`,
/// `down`) with its collectives in between. One process runs `decode` / `prefill` directly.
public final class SparseMLP: FeedForward {
    /// Width of h (gate/up IC) and of this MLP's gate/up output (the intermediate size, or a rank's slice of it).
    public let hidden: Int, width: Int
    /// The model layer this MLP is (named in errors).
    public let layer: Int
    /// The gate's activation (silu for SwiGLU, GELU for GeGLU).
    public let activation: GatedActivation
    /// Thresholds on |h| (gate/up input) and |a| (down input); 0 keeps every channel.
    public var thresholdGateUp: Float = 0, thresholdDown: Float = 0
    /// Prefill drops the channels under the thresholds too (zeroes them): sparse decode's arithmetic, batched.
    /// Calibration scores held-out text this way; off for serving.
    public var thresholdPrefill = false

    /// [H, width] each
    public let gate: SparseFC, up: SparseFC
    /// [width, H] in one process; a rank's slice in the distributed MLP ([I, H_r] or [I_r, H])
    public let down: SparseFC

    // MARK: Scratch, allocated once (the distributed MLP runs its protocol on the first three, not copies)
    /// kept channels of h [H] and of a [down.ic]
    public let keptH: SparseActivation, keptA: SparseActivation
    /// [width] a = act(gate)·up
    public let a: UnsafeMutablePointer<Float>
    /// [width] the up output
    let u: UnsafeMutablePointer<Float>
    /// Prefill scratch, grown to the longest prompt: x [M, H] (a copy: prefill may zero it), a and up [M, width]
    let xScratch = GrowableBuffer(), aScratch = GrowableBuffer(), upScratch = GrowableBuffer()

    // MARK: Statistics (reset with `resetStats`)
    public private(set) var tokens = 0, keptGateUp = 0, keptDown = 0, channelsDown = 0
    /// Bytes of weights (codes + scales) the decode GEMVs read.
    public private(set) var bytesRead = 0

    /// Called in prefill with (x [M, H], a [M, width], M): calibration reads the MLP's inputs here.
    public var capture: ((UnsafePointer<Float>, UnsafePointer<Float>, Int) -> Void)?

    public init(gate: SparseFC, up: SparseFC, down: SparseFC, layer: Int = 0, activation: GatedActivation = .silu)
        throws
    {
        guard gate.ic == up.ic, gate.oc == up.oc else {
            throw ActSparseError.shape(what: "layer \(layer) MLP up", expected: "[\(gate.ic), \(gate.oc)] as gate",
                                       found: "[\(up.ic), \(up.oc)]")
        }
        self.gate = gate
        self.up = up
        self.down = down
        self.layer = layer
        self.activation = activation
        hidden = gate.ic
        width = gate.oc
        keptH = SparseActivation(width: hidden)
        keptA = SparseActivation(width: down.ic)
        a = .allocate(capacity: max(1, width))
        u = .allocate(capacity: max(1, width))
    }

    /// Layer `l` of a GGUF file, whole: gate and up [H, I], down [I, H].
    public convenience init(gguf g: GGUFFile, layer l: Int, config c: LlamaConfig, threads: Int,
                            packing: GrowableBuffer = GrowableBuffer()) throws {
        func fc(_ name: TensorName.Layer, _ ic: Int, _ oc: Int) throws -> SparseFC {
            let t = try g.tensor(name.of(l), dims: [ic, oc])
            return try SparseFC(weights: try g.plainWeights(t), threads: threads, packing: packing)
        }
        try self.init(gate: try fc(.gate, c.hidden, c.intermediate),
                      up: try fc(.up, c.hidden, c.intermediate),
                      down: try fc(.down, c.intermediate, c.hidden), layer: l,
                      activation: c.architecture.activation)
    }

    deinit { a.deallocate(); u.deallocate() }

    public var linears: [SparseFC] { [gate, up, down] }

    /// Bytes of weights held (codes + scales of the three FCs).
    public var bytesHeld: Int { gate.weights.bytes + up.weights.bytes + down.weights.bytes }

    /// The FCs a site feeds: gate and up, or down; none for the attention sites.
    public func fcs(for site: SparsitySite) -> [SparseFC] {
        switch site {
        case .gateUp: [gate, up]
        case .down: [down]
        case .attention, .output: []
        }
    }

    public func resetStats() { tokens = 0; keptGateUp = 0; keptDown = 0; channelsDown = 0; bytesRead = 0 }

    /// Realized sparsity of the gate/up input and of the down input over the tokens since `resetStats`.
    public var realizedSparsity: (gateUp: Double, down: Double) {
        let t = Double(max(1, tokens))
        return (1 - Double(keptGateUp) / (t * Double(hidden)), 1 - Double(keptDown) / Double(max(1, channelsDown)))
    }

    /// Runs one FC's decode and counts the weight bytes it reads.
    @inline(__always) func gemv(_ fc: SparseFC, _ x: SparseActivation, _ y: UnsafeMutablePointer<Float>) throws {
        try fc.decode(x, into: y)
        bytesRead += fc.weights.bytesRead(kept: x.indices, count: x.count)
    }

    // MARK: - Decode halves (the distributed MLP runs its collectives between them)

    /// a[width] = act(gate(h)) ⊙ up(h) over the kept channels of h.
    public func gateUp(_ h: SparseActivation, into a: UnsafeMutablePointer<Float>) throws {
        keptGateUp += h.count
        tokens += 1
        try gemv(gate, h, a)
        try gemv(up, h, u)
        activation.apply(gate: a, up: u, into: a, count: width)
    }

    /// out[down.oc] = down(a) over the kept channels of a.
    public func down(_ a: SparseActivation, into out: UnsafeMutablePointer<Float>) throws {
        keptDown += a.count
        channelsDown += a.width
        try gemv(down, a, out)
    }

    // MARK: - One process

    /// The down projection reads this MLP's own a: one process, or a rank whose down is sliced by IC.
    func requireOwnA() throws {
        guard down.ic == width else {
            throw ActSparseError.shape(what: "layer \(layer) MLP down", expected: "\(width) input channels (its own a)",
                                       found: "\(down.ic)")
        }
    }

    /// out[down.oc] = MLP(h[H]) for one token, sparse.
    public func decode(_ h: UnsafePointer<Float>?, into out: UnsafeMutablePointer<Float>?) throws {
        guard let h, let out else {
            throw ActSparseError.invalidValue(what: "layer \(layer) MLP", expected: "input and output", found: "nil")
        }
        try requireOwnA()
        try keptH.threshold(h, count: hidden, t: thresholdGateUp)
        try gateUp(keptH, into: a)
        try keptA.threshold(a, count: width, t: thresholdDown)
        try down(keptA, into: out)
    }

    /// a[M, width] = act(gate(x)) ⊙ up(x) for M rows, dense (x [M, H] is zeroed below the threshold in place when
    /// `thresholdPrefill`, and so is a).
    public func prefillGateUp(_ x: UnsafeMutablePointer<Float>, m: Int, into a: UnsafeMutablePointer<Float>) throws {
        if thresholdPrefill { SparseActivation.zeroDropped(x, count: m * hidden, t: thresholdGateUp) }
        let um = try upScratch.floats(m * width)
        try gate.prefill(x, m: m, into: a)
        try up.prefill(x, m: m, into: um)
        activation.apply(gate: a, up: um, into: a, count: m * width)
        capture?(x, a, m)
        if thresholdPrefill { SparseActivation.zeroDropped(a, count: m * width, t: thresholdDown) }
    }

    /// out[M, down.oc] = MLP(x[M, H]), dense (see `thresholdPrefill`); x is not modified.
    public func prefill(_ x: UnsafePointer<Float>?, m: Int, into out: UnsafeMutablePointer<Float>?) throws {
        guard let x, let out else {
            throw ActSparseError.invalidValue(what: "layer \(layer) MLP prefill", expected: "input and output",
                                              found: "nil")
        }
        try requireOwnA()
        let xs = try xScratch.floats(m * hidden), am = try aScratch.floats(m * width)
        xs.update(from: x, count: m * hidden)
        try prefillGateUp(xs, m: m, into: am)
        try down.prefill(am, m: m, into: out)
    }
}
