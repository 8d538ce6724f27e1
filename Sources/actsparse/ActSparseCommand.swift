import ActSparse
import ArgumentParser
import Foundation

@main
struct ActSparseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "actsparse",
        abstract: "Batch-1 LLM decoding on CPUs with dynamic activation sparsity, over MPI ranks.",
        version: versionLine,
        subcommands: [GenerateCommand.self, ChatCommand.self, ServeCommand.self, FetchCommand.self, CalibrateCommand.self, EvalCommand.self, TokenizeCommand.self, MLPCommand.self,
                      SynthCommand.self, SoakCommand.self, PlotCommand.self,
                      Bench.self, CommCheck.self])

    /// A bad ACTSPARSE_ISA is refused before anything runs (the kernels would otherwise quietly use the best level).
    static func main() {
        do { _ = try KernelISA.resolve(KernelISA.environment) } catch {
            StandardError.write("actsparse: \(error)\n")
            Foundation.exit(2)
        }
        main(nil)
    }

    /// One line: version, the ISA the kernels were built for, the decode kernels, and whether MPI is in.
    static var versionLine: String {
        "actsparse \(BuildInfo.version) (build \(BuildInfo.buildID)) · \(BuildInfo.kernels) · Swift code for \(BuildInfo.isa) · MPI: "
            + (World.hasMPI ? "yes (Open MPI)" : "no (one process; build with --traits MPI for ranks)")
    }
}

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmarks (effective GB/s next to a read-bandwidth probe measured in the same run).",
        subcommands: [BenchFC.self, BenchModel.self])
}

/// Text files (prompts, calibration and evaluation texts) larger than this are refused before they are read.
let textFileLimit = 256 << 20

/// A text file (calibration, evaluation) as UTF-8, or one clear error naming it.
func readText(_ path: String) throws -> String {
    let data = try RegularFile.read(path, limit: textFileLimit, what: "text file")
    guard let s = String(data: data, encoding: .utf8) else {
        throw ActSparseError.file(path: path, problem: "not UTF-8 text")
    }
    return s
}
