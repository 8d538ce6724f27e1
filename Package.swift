// swift-tools-version:6.0
import Foundation
import PackageDescription

// MARK: - Code generation for the host CPU
// Without a target-CPU flag Swift lowers SIMD16<Float> FMA to one `fmaf` call per lane (measured: an f32 GEMV at
// 1.6 GB/s instead of ~25). Like llama.cpp we build for the host CPU by default.
//   ACTSPARSE_TARGET_CPU=native (default) | znver4 | skylake-avx512 | haswell | ... any `-target-cpu` name
//   ACTSPARSE_TARGET_CPU=portable  — no CPU flag: runs on any x86-64, but the kernels are ~10x slower.
let targetCPU = ProcessInfo.processInfo.environment["ACTSPARSE_TARGET_CPU"] ?? "native"
let fastFlags: [SwiftSetting] =
    targetCPU == "portable" ? [] : [.unsafeFlags(["-target-cpu", targetCPU], .when(configuration: .release))]
let settings: [SwiftSetting] = fastFlags + [.swiftLanguageMode(.v5)]

let package = Package(
    name: "ActSparse",
    products: [
        .library(name: "ActSparse", targets: ["ActSparse"]),
        .library(name: "ActSparseMPI", targets: ["ActSparseMPI"]),
        .executable(name: "actsparse", targets: ["actsparse"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // Open MPI's C API; the shim header exposes the macros Swift cannot import.
        .systemLibrary(
            name: "CMPI", path: "Sources/CMPI", pkgConfig: "ompi-c", providers: [.apt(["libopenmpi-dev"])]),
        // Inline C helpers the kernels need (software prefetch).
        .target(name: "CActSparse", path: "Sources/CActSparse"),
        // Formats, layouts, kernels, model, GGUF, calibration. Never imports CMPI.
        .target(name: "ActSparse", dependencies: ["CActSparse"], swiftSettings: settings),
        // Communicators (MPI and single-process), shard plans, the per-token protocol.
        .target(name: "ActSparseMPI", dependencies: ["ActSparse", "CMPI"], swiftSettings: settings),
        .executableTarget(
            name: "actsparse",
            dependencies: [
                "ActSparse", "ActSparseMPI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: settings),
        .testTarget(name: "ActSparseTests", dependencies: ["ActSparse", "CActSparse"], swiftSettings: settings),
        .testTarget(
            name: "ActSparseMPITests", dependencies: ["ActSparse", "ActSparseMPI", "actsparse"],
            exclude: ["Golden"],  // golden data and the script that made it, read from the source tree
            swiftSettings: settings),
    ]
)
