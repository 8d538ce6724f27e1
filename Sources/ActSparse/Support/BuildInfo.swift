import CActSparse

/// What this build is: version, the instruction set its kernels were compiled for, and which decode kernels run.
public enum BuildInfo {
    public static let version = "0.10.0"

    /// e.g. "AVX-512 + VNNI" (the package builds for the host CPU; see Package.swift).
    public static var isa: String { String(cString: actsparse_build_isa()) }

    /// The decode kernels in use: the int8-activation VNNI GEMV for 4/5/6-bit codes where the build has it, the
    /// f32 SIMD GEMV for everything else.
    public static var kernels: String {
        SparseFC.int8Available ? "int8 activations: VNNI GEMV; f32 activations: SIMD GEMV"
            : "f32 SIMD GEMV (int8 activations fall back to it: no AVX512-VNNI/VBMI/BITALG in this build)"
    }
}
