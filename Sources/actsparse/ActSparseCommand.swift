import ActSparse
import ArgumentParser

@main
struct ActSparseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "actsparse",
        abstract: "Batch-1 LLM decoding on CPUs with dynamic activation sparsity, over MPI ranks.",
        subcommands: [GenerateCommand.self, CalibrateCommand.self, EvalCommand.self, TokenizeCommand.self, MLPCommand.self,
                      SynthCommand.self, SoakCommand.self, PlotCommand.self,
                      Bench.self, CommCheck.self])
}

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmarks (effective GB/s next to a read-bandwidth probe measured in the same run).",
        subcommands: [BenchFC.self, BenchModel.self])
}

/// A text file (calibration, evaluation) as UTF-8, or one clear error naming it.
func readText(_ path: String) throws -> String {
    guard let data = FileManager.default.contents(atPath: path) else {
        throw ActSparseError.file(path: path, problem: "cannot read the text file")
    }
    guard let s = String(data: data, encoding: .utf8) else {
        throw ActSparseError.file(path: path, problem: "not UTF-8 text")
    }
    return s
}

/// Comma-separated list parsing for options such as `--sparsity 0,0.5,0.7`.
func parseList<T>(_ text: String, _ what: String, _ parse: (String) -> T?) throws -> [T] {
    try text.split(separator: ",").map {
        let s = $0.trimmingCharacters(in: .whitespaces)
        guard let v = parse(s) else { throw ValidationError("\(what): cannot read \"\(s)\" in \"\(text)\"") }
        return v
    }
}

import Foundation
