import ActSparse
import ActSparseDistributed
import ActSparseTools
import ArgumentParser
import Foundation

/// A comma-separated option value (`--sparsity 0,0.5,0.7`), parsed by the argument parser itself: a bad element is
/// reported with the option's name and the value before `run` starts. An empty string is an empty list.
struct CommaList<Element: ExpressibleByArgument>: ExpressibleByArgument, ExpressibleByArrayLiteral {
    var values: [Element]

    init(arrayLiteral elements: Element...) { values = elements }

    init?(argument: String) {
        var out: [Element] = []
        for part in argument.split(separator: ",") {
            guard let v = Element(argument: part.trimmingCharacters(in: .whitespaces)) else { return nil }
            out.append(v)
        }
        values = out
    }

    var defaultValueDescription: String { values.map { "\($0)" }.joined(separator: ",") }
}

extension CommaList: Sequence {
    func makeIterator() -> IndexingIterator<[Element]> { values.makeIterator() }
    var isEmpty: Bool { values.isEmpty }
    var count: Int { values.count }
}

// Enums the options take by name: the parser lists the choices and refuses others.
extension KVCache.Precision: ExpressibleByArgument {}
extension ActivationPrecision: ExpressibleByArgument {}
extension DistributedLlama.Scope: ExpressibleByArgument {}
extension DistributedMLP.Mode: ExpressibleByArgument {}
extension Synthesizer.Preset: ExpressibleByArgument {}
extension Synthesizer.Mix: ExpressibleByArgument {}
