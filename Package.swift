// swift-tools-version:6.1
import Foundation
import PackageDescription

// MARK: - Code generation
// The hot kernels are C, compiled once per instruction set (AVX2, AVX-VNNI, AVX-512 VNNI) and picked at run time
// (Sources/CActSparse/kernels): they need no flag. The Swift code (the f32 kernels, norms, thresholding) needs a
// target CPU to vectorize — without one SIMD16<Float> FMA becomes one `fmaf` call per lane (docs/design.md). The
// default, haswell (AVX2 + FMA + F16C), runs on every x86-64 server since 2013 (Haswell, Zen 1 and later), so a
// binary built on one machine runs at full speed on another.
//   ACTSPARSE_TARGET_CPU=haswell (default on x86-64) | native | znver4 | ... any `-target-cpu` name
//   ACTSPARSE_TARGET_CPU=portable — no flag: any CPU, and the only setting a versioned dependency may use (SwiftPM
//   refuses unsafe flags there); the C kernels keep their speed, the f32 paths are slow.
#if arch(x86_64)
let defaultCPU = "haswell"
#else
let defaultCPU = "portable"
#endif
let targetCPU = ProcessInfo.processInfo.environment["ACTSPARSE_TARGET_CPU"] ?? defaultCPU
let fastFlags: [SwiftSetting] =
    targetCPU == "portable" ? [] : [.unsafeFlags(["-target-cpu", targetCPU], .when(configuration: .release))]
let settings: [SwiftSetting] = fastFlags + [.swiftLanguageMode(.v6)]

// MARK: - Targets by dependency
//   CActSparse (C kernels) ← ActSparse (formats, GGUF, kernels, model, tokenizer: one process, sparse)
//     ← ActSparseDistributed (communicators, shard plans, the distributed model and MLP; no MPI)
//       ← ActSparseCalibration (threshold tables from text, held-out budget), ActSparseTools (bench, synth, plots)
//       ← ActSparseGeneration (Generator: prompts and chat turns in, a stream of text out; sampling, stops)
//         ← ActSparseServer (the OpenAI-compatible HTTP server on Hummingbird)
//       ← ActSparseMPI (MPICommunicator over Open MPI: the only importer of CMPI; with the MPI trait)
//         ← actsparse (the CLI)
// One process builds and runs without Open MPI: `swift build`. Multi-rank runs: `swift build --traits MPI`.
let package = Package(
    name: "ActSparse",
    products: [
        .library(name: "ActSparse", targets: ["ActSparse"]),
        .library(name: "ActSparseDistributed", targets: ["ActSparseDistributed"]),
        .library(name: "ActSparseCalibration", targets: ["ActSparseCalibration"]),
        .library(name: "ActSparseGeneration", targets: ["ActSparseGeneration"]),
        .library(name: "ActSparseServer", targets: ["ActSparseServer"]),
        .library(name: "ActSparseMPI", targets: ["ActSparseMPI"]),
        .executable(name: "actsparse", targets: ["actsparse"]),
    ],
    traits: [
        .trait(name: "MPI", description: "Multi-rank runs under mpirun (needs Open MPI: apt-get install libopenmpi-dev)."),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
    ],
    targets: [
        // Open MPI's C API; the shim header exposes the macros Swift cannot import.
        .systemLibrary(
            name: "CMPI", path: "Sources/CMPI", pkgConfig: "ompi-c", providers: [.apt(["libopenmpi-dev"])]),
        // The C kernels and their scalar twins.
        .target(name: "CActSparse", path: "Sources/CActSparse"),
        .target(name: "ActSparse", dependencies: ["CActSparse"], swiftSettings: settings),
        .target(name: "ActSparseDistributed", dependencies: ["ActSparse", "CActSparse"], swiftSettings: settings),
        .target(name: "ActSparseCalibration", dependencies: ["ActSparse", "ActSparseDistributed"],
                swiftSettings: settings),
        .target(name: "ActSparseTools", dependencies: ["ActSparse", "ActSparseDistributed"], swiftSettings: settings),
        .target(name: "ActSparseGeneration", dependencies: ["ActSparse", "ActSparseDistributed"], swiftSettings: settings),
        .target(name: "ActSparseServer",
                dependencies: ["ActSparse", "ActSparseGeneration", .product(name: "Hummingbird", package: "hummingbird"),
                               .product(name: "Logging", package: "swift-log"),
                               .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                               .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                               .product(name: "NIOCore", package: "swift-nio")],
                swiftSettings: settings),
        .target(name: "ActSparseMPI", dependencies: ["ActSparseDistributed", "CMPI"], swiftSettings: settings),
        .executableTarget(
            name: "actsparse",
            dependencies: [
                "ActSparse", "ActSparseDistributed", "ActSparseCalibration", "ActSparseTools", "ActSparseGeneration",
                "ActSparseServer",
                .target(name: "ActSparseMPI", condition: .when(traits: ["MPI"])),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: settings),
        .testTarget(name: "ActSparseTests", dependencies: ["ActSparse", "CActSparse", "ActSparseTestSupport"],
                    swiftSettings: settings),
        // What both suites below share: launching the binary, tiny GGUF files, the cached real models.
        .target(name: "ActSparseTestSupport", dependencies: ["ActSparse"], path: "Tests/TestSupport",
                swiftSettings: settings),
        // One process: model, families, tokenizer, calibration, the CLI without mpirun.
        .testTarget(
            name: "ActSparseModelTests",
            dependencies: ["ActSparse", "ActSparseDistributed", "ActSparseCalibration", "ActSparseTools",
                           "ActSparseGeneration", "ActSparseTestSupport", "actsparse"],
            exclude: ["Golden"],  // golden data and the scripts that made it, read from the source tree
            swiftSettings: settings),
        // Tests that launch mpirun (skipped, with the reason, in a build without the MPI trait).
        .testTarget(
            name: "ActSparseMPITests",
            dependencies: ["ActSparse", "ActSparseDistributed", "ActSparseTestSupport", "actsparse"],
            swiftSettings: settings),
    ]
)
