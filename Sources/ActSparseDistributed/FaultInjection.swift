import ActSparse
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Test-only failures at the per-token protocol's steps, from `ACTSPARSE_FAULT=RANK:STEP:KIND[@N]`: rank RANK
/// fails the N-th time (default 3; start and load happen once: 1) it reaches STEP. Steps: start (before MPI starts; the
/// launcher's rank number), load (after loading, before the ready barrier),
/// header (rank 0's step header), kept-h, a (gather-mode gatherv of a / reduce-mode local threshold), kept-a,
/// out (gatherv or reduce of the MLP output). Kinds: error (a thrown error), nan (this rank's outgoing floats at
/// that step become NaN), kill (SIGKILL), stall (sleeps until killed). Unset: every check is one branch.
public struct FaultInjection: Sendable {
    public enum Step: String, CaseIterable, Sendable { case start, load, header, keptH = "kept-h", a, keptA = "kept-a", out }
    public enum Kind: String, CaseIterable, Sendable { case error, nan, kill, stall }

    let rank: Int, step: Step, kind: Kind, occurrence: Int

    /// This process's fault, parsed once from the environment, or why the spec is bad.
    static let parsed: Result<FaultInjection?, ActSparseError> = {
        guard let spec = ProcessInfo.processInfo.environment["ACTSPARSE_FAULT"], !spec.isEmpty else { return .success(nil) }
        do { return .success(try FaultInjection(parsing: spec)) } catch let e as ActSparseError { return .failure(e) } catch {
            return .failure(.invalidValue(what: "ACTSPARSE_FAULT", expected: "a fault spec", found: "\(error)"))
        }
    }()

    /// This process's fault (nil: none, another rank's, or a bad spec, which `checkEnvironment` reports).
    public static var configured: FaultInjection? { (try? parsed.get()) ?? nil }

    /// Throws if ACTSPARSE_FAULT is set but not a valid spec (the CLI checks before anything runs).
    public static func checkEnvironment() throws { _ = try parsed.get() }

    public init(parsing spec: String) throws {
        let at = spec.split(separator: "@", omittingEmptySubsequences: false).map(String.init)
        let p = at[0].split(separator: ":").map(String.init)
        let s = p.count == 3 ? Step(rawValue: p[1]) : nil
        let n = at.count == 2 ? Int(at[1]) : (s == .load || s == .start ? 1 : 3)  // once per run
        guard at.count <= 2, p.count == 3, let r = Int(p[0]), r >= 0, let s, let k = Kind(rawValue: p[2]),
              let n, n >= 1 else {
            throw ActSparseError.invalidValue(
                what: "fault spec", expected: "RANK:STEP:KIND[@N], STEP in \(Step.allCases.map(\.rawValue)), " +
                "KIND in \(Kind.allCases.map(\.rawValue))", found: spec)
        }
        rank = r; step = s; kind = k; occurrence = n
    }

    /// Counts of how often this process reached each step.
    nonisolated(unsafe) static var reached: [Step: Int] = [:]

    /// Called at `step` by rank `rank`; `payload` is what this rank is about to send there (nil: nothing).
    @inline(__always)
    public static func at(_ step: Step, rank: Int, layer: Int? = nil, payload: UnsafeMutablePointer<Float>? = nil,
                          count: Int = 0) throws {
        guard let f = configured, f.rank == rank, f.step == step else { return }
        try f.fire(layer: layer, payload: payload, count: count)
    }

    func fire(layer: Int?, payload: UnsafeMutablePointer<Float>?, count: Int) throws {
        let n = (FaultInjection.reached[step] ?? 0) + 1
        FaultInjection.reached[step] = n
        guard n == occurrence else { return }
        let at = "step \(step.rawValue)" + (layer.map { " of layer \($0)" } ?? "")
        switch kind {
        case .error: throw ProtocolError(layer: layer, step: step.rawValue, problem: "injected failure")
        case .nan:
            guard let payload, count > 0 else {
                throw ProtocolError(layer: layer, step: step.rawValue, problem: "injected NaN, but this rank sends no floats here")
            }
            payload[count / 2] = .nan
        case .kill:
            StandardError.write("actsparse: rank \(rank): fault injection: SIGKILL at \(at)\n")
            kill(getpid(), SIGKILL)
        case .stall:
            StandardError.write("actsparse: rank \(rank): fault injection: stalling at \(at)\n")
            while true { sleep(60) }
        }
    }
}

/// A failure at one step of the per-token protocol: names the layer and the step, then what went wrong.
public struct ProtocolError: Error, CustomStringConvertible {
    public let layer: Int?
    public let step: String
    public let problem: String
    public var description: String { (layer.map { "layer \($0), " } ?? "") + "step \(step): \(problem)" }
}
