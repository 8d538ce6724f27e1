import CActSparse
import Foundation

/// What this build is and which kernels this run uses.
public enum BuildInfo {
    public static let version = "0.11.0"

    /// The executable's GNU build id (hex; the linker's hash of the binary), or "unknown" without one: ranks of a
    /// job compare it, since two builds may differ in protocol or arithmetic.
    public static let buildID: String = {
        var bytes = [UInt8](repeating: 0, count: 64)
        let n = Int(actsparse_build_id(&bytes, Int32(bytes.count)))
        return n > 0 ? bytes.prefix(n).map { String(format: "%02x", $0) }.joined() : "unknown"
    }()

    /// The instruction set the Swift code was compiled for (Package.swift's target CPU): the floor the binary needs,
    /// and what the f32 kernels use. e.g. "AVX2 + FMA + F16C".
    public static var isa: String { String(cString: actsparse_build_isa()) }

    /// The kernels in use, e.g. "int8 GEMV, GEMM and attention: AVX2 (vpmaddubsw) (CPU: avx512; ACTSPARSE_ISA=avx2)".
    public static var kernels: String {
        let isa = KernelISA.active, forced = isa != KernelISA.detected
        return "int8 GEMV, GEMM and attention: \(isa)" + (forced ? " (CPU: \(KernelISA.detected.name); ACTSPARSE_ISA=\(isa.name))" : "")
    }
}
