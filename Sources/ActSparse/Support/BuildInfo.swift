import CActSparse

/// What this build is and which kernels this run uses.
public enum BuildInfo {
    public static let version = "0.10.0"

    /// The instruction set the Swift code was compiled for (Package.swift's target CPU): the floor the binary needs,
    /// and what the f32 kernels use. e.g. "AVX2 + FMA + F16C".
    public static var isa: String { String(cString: actsparse_build_isa()) }

    /// The kernels in use, e.g. "int8 GEMV, GEMM and attention: AVX2 (vpmaddubsw) (CPU: avx512; ACTSPARSE_ISA=avx2)".
    public static var kernels: String {
        let isa = KernelISA.active, forced = isa != KernelISA.detected
        return "int8 GEMV, GEMM and attention: \(isa)" + (forced ? " (CPU: \(KernelISA.detected.name); ACTSPARSE_ISA=\(isa.name))" : "")
    }
}
