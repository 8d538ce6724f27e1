/// Every failure the engine reports. Each message names the thing, the value expected and the value found.
public enum ActSparseError: Error, Equatable, CustomStringConvertible {
    /// A shape or size disagreement: `what` names the tensor/argument.
    case shape(what: String, expected: String, found: String)
    /// A value that is not allowed (NaN, negative threshold, unknown format …).
    case invalidValue(what: String, expected: String, found: String)
    /// A file that cannot be read or does not hold what it should.
    case file(path: String, problem: String)
    /// Not enough memory for `what` (bytes; available nil when unknown).
    case memory(what: String, needed: Int, available: Int?)

    public var description: String {
        switch self {
        case let .shape(what, expected, found):
            return "shape mismatch in \(what): expected \(expected), found \(found)"
        case let .invalidValue(what, expected, found):
            return "invalid \(what): expected \(expected), found \(found)"
        case let .file(path, problem):
            return "\(path): \(problem)"
        case let .memory(what, needed, available):
            return "out of memory for \(what): needs \(Memory.describe(needed))" +
                (available.map { ", \(Memory.describe($0)) available" } ?? "")
        }
    }
}

extension ActSparseError {
    @inline(__always)
    static func require(_ ok: Bool, _ what: String, expected: @autoclosure () -> String,
                        found: @autoclosure () -> String) throws {
        if !ok { throw ActSparseError.shape(what: what, expected: expected(), found: found()) }
    }
}
