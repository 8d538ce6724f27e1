import CActSparse

/// One fully-connected layer y[M, OC] = x[M, IC] · W[IC, OC] with its scratch, allocated once.
/// Decode (M = 1) runs the sparse GEMV over the kept rows of the plain layout; prefill (M > 1) runs a dense
/// GEMM that re-tiles the plain layout on the fly into per-worker panels (no second copy of the weights).
public final class SparseFC: @unchecked Sendable {
    public let weights: PlainWeights
    /// Worker threads for decode and prefill.
    public let threads: Int
    /// [OC] per-group partial sums Σ x·q of quantized formats; each worker owns its OC chunk. The int8 GEMV keeps
    /// its i32 sums here too, worker w at lo + 128·w (its last tile may be up to 96 columns wider than its chunk).
    let partial: AlignedBuffer
    /// Per worker: [KC, NC] f32 panel of dequantized weights (prefill)
    let panels: [AlignedBuffer]
    /// [⌈M/MR⌉, IC, MR] f32 activations packed for the micro-kernel (prefill); grows to the largest M seen.
    /// FCs used one after another (a model's layers) share one, so a prompt does not fault in a buffer per FC.
    /// The int8 paths use it as their scratch instead: quantized prompt rows, panels and sums (`prefillQ8`), and
    /// the per-worker sums and partial outputs of a decode split by rows (`decodeQ8Rows`).
    let packedX: GrowableBuffer
    /// One prompt row as an all-kept activation: prompts of at most `gemvRowsMax` rows run as that many dense
    /// GEMVs, which read the weights once per row at memory speed instead of dequantizing every weight into
    /// panels (docs/design.md, "Kernel tuning").
    let rowActivation: SparseActivation
    static let gemvRowsMax = 8
    /// Decode pass shape: rows per pass over y (4 or 8) and whether to prefetch the next pass's rows.
    let rowsPerPass: Int
    let prefetchRows: Bool
    /// Rows shorter than this many bytes per worker chunk count as short (see `DecodeJob.pass`): 8 rows + prefetch
    /// help short rows and hurt long ones (docs/design.md, "Kernel tuning").
    static let shortRowBytes = 4096
    /// Bytes per scale element of the weights (prefetch stride).
    let scaleElementBytes: Int
    /// Decode OC chunks, one per worker, aligned to the 32-column codec blocks.
    let decodeChunks: [Range<Int>]
    /// Prefill OC chunks, aligned to NC.
    let prefillChunks: [Range<Int>]
    /// What decode multiplies the codes with (see `ActivationPrecision`); `.int8` takes effect where `q8` exists.
    public var activations: ActivationPrecision = .f32
    /// The weights' half of the int8 GEMV's job, when these weights can run it (integer codes in groups).
    let q8: actsparse_q8_job?
    /// The instruction set of the int8 GEMV and GEMM (`KernelISA.active` unless a test or benchmark picks another).
    public var isa: KernelISA = .active
    /// Int8 decode splits the kept groups among the workers (`decodeQ8Rows`) when a worker's column chunk of a row
    /// would be under `q8RowSplitBytes`; [workers + 1] group bounds, reused every call. The threshold was tuned on a
    /// whole 7B model (docs/design.md, "Kernel tuning").
    public let q8SplitsRows: Bool
    let q8Bounds: UnsafeMutablePointer<Int>
    static let q8RowSplitBytes = 8192

    // Prefill tile sizes: MR×NC accumulators (4 × 64 = 16 zmm), KC rows per panel (64 KiB, L2-resident).
    static let MR = 4, NC = 64, KC = 256

    public init(weights: PlainWeights, threads: Int = Parallel.availableCores, packing: GrowableBuffer? = nil) throws {
        self.weights = weights
        packedX = packing ?? GrowableBuffer()
        self.threads = max(1, threads)
        partial = try AlignedBuffer(bytes: (weights.oc + 128 * max(1, threads)) * 4 + 64)
        rowActivation = SparseActivation(width: weights.ic)
        scaleElementBytes = weights.scaleElementBytes
        decodeChunks = Parallel.split(weights.oc, parts: self.threads, align: 32)
        let chunkBytes = weights.rowStride / max(1, decodeChunks.count)
        prefetchRows = chunkBytes < SparseFC.shortRowBytes
        // 8 rows per pass halve the partial-sum traffic per code byte, which matters for 1-byte and 4-bit codes
        // (each 32-column block carries only 16–32 bytes per row); 2- and 4-byte codes stream better with 4.
        rowsPerPass = prefetchRows || weights.format.rowBytes(32) <= 32 ? 8 : 4
        prefillChunks = Parallel.split(weights.oc, parts: self.threads, align: SparseFC.NC)
        panels = try (0..<prefillChunks.count).map { _ in try AlignedBuffer(bytes: SparseFC.KC * SparseFC.NC * 4) }
        q8 = weights.q8Job()
        q8SplitsRows = decodeChunks.count > 1 && weights.rowStride / decodeChunks.count < SparseFC.q8RowSplitBytes
        q8Bounds = .allocate(capacity: decodeChunks.count + 1)
    }

    /// Whether decode runs the int8 GEMV: `.int8` and a format it pays off for (`FormatTraits.q8Codec`).
    public var decodesInt8: Bool { activations == .int8 && q8 != nil && weights.format.traits.q8Codec != nil }
    /// Whether prefill runs the int8 GEMM: `.int8` and any storage the kernel reads, 8-bit codes included (prefill
    /// is compute-bound, so the integer dot products pay off where the memory-bound GEMV's do not: SmolLM2's Q8_0 LM
    /// head on the f32 GEMM was a fifth of a calibration's profile).
    public var prefillsInt8: Bool { activations == .int8 && q8 != nil }

    deinit { q8Bounds.deallocate() }

    public var ic: Int { weights.ic }
    public var oc: Int { weights.oc }
}
