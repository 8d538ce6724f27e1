import CActSparse
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The instruction set the C kernels (int8 GEMV, int8 prefill GEMM, attention) run on, chosen at run time: the best
/// this CPU has, or a lower one named by `ACTSPARSE_ISA` (tests and benchmarks), so one binary is fast on any
/// x86-64 (kernels/dispatch.c; docs/design.md, "Kernels by instruction set").
public enum KernelISA: Int32, CaseIterable, Sendable, Comparable, CustomStringConvertible {
    /// The plain scalar twins.
    case scalar = 0
    /// AVX2 + FMA + F16C: int8 products with vpmaddubsw + vpmaddwd (Haswell, Zen 1–3 and later).
    case avx2 = 1
    /// AVX2 with AVX-VNNI: 256-bit vpdpbusd (Alder Lake clients, Sapphire Rapids, Zen 5).
    case avxVNNI = 2
    /// AVX-512 F/BW/VL with VNNI, VBMI and BITALG (Ice Lake, Sapphire Rapids, Zen 4 and later).
    case avx512 = 3

    /// The name `ACTSPARSE_ISA` takes.
    public var name: String {
        switch self {
        case .scalar: "scalar"
        case .avx2: "avx2"
        case .avxVNNI: "avxvnni"
        case .avx512: "avx512"
        }
    }

    public var description: String {
        switch self {
        case .scalar: "scalar"
        case .avx2: "AVX2 (vpmaddubsw)"
        case .avxVNNI: "AVX-VNNI (256-bit vpdpbusd)"
        case .avx512: "AVX-512 VNNI (512-bit vpdpbusd)"
        }
    }

    public static func < (a: KernelISA, b: KernelISA) -> Bool { a.rawValue < b.rawValue }

    /// The best level this CPU and OS run.
    public static let detected = KernelISA(rawValue: actsparse_isa_detect()) ?? .scalar

    /// Every level this CPU runs, lowest first: what the kernel tests compare with the scalar twins.
    public static var supported: [KernelISA] { allCases.filter { $0 <= detected } }

    /// The level `value` (an `ACTSPARSE_ISA` setting) asks for: nil or "native" → `detected`. Throws for an unknown
    /// name or a level this CPU cannot run.
    public static func resolve(_ value: String?) throws -> KernelISA {
        guard let value, !value.isEmpty, value != "native" else { return detected }
        guard let isa = allCases.first(where: { $0.name == value.lowercased() }) else {
            throw ActSparseError.invalidValue(what: "ACTSPARSE_ISA", expected: "native, "
                + allCases.map(\.name).joined(separator: ", "), found: "\"\(value)\"")
        }
        guard isa <= detected else {
            throw ActSparseError.invalidValue(what: "ACTSPARSE_ISA", expected: "a level this CPU runs (at most \(detected.name))",
                                              found: isa.name)
        }
        return isa
    }

    /// The environment's `ACTSPARSE_ISA`.
    public static var environment: String? { getenv("ACTSPARSE_ISA").map { String(cString: $0) } }

    /// What the kernels use unless told otherwise: `ACTSPARSE_ISA` when it names a level this CPU runs, else the
    /// best detected (the CLI refuses a bad setting with `resolve`'s error before it gets here).
    public static let active: KernelISA = (try? resolve(environment)) ?? detected
}
