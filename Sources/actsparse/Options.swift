import ActSparse
import ActSparseDistributed
import ArgumentParser
import Foundation

/// Options shared by commands that run kernels.
struct ThreadOptions: ParsableArguments {
    @Option(help: "Worker threads per rank (default: ACTSPARSE_THREADS, else this rank's share of its cores).")
    var threads: Int?

    /// More workers than this is a typo, not a machine (each one gets a stack and a spin slot).
    static let limit = 4096

    func validate() throws {
        if let threads, !(1...ThreadOptions.limit).contains(threads) {
            throw ValidationError("--threads must be in 1...\(ThreadOptions.limit), found \(threads)")
        }
    }

    /// Cores this process may use; when mpirun did not bind it, shared among the ranks on this node.
    var resolved: Int {
        if let threads { return min(max(1, threads), ThreadOptions.limit) }
        let env = ProcessInfo.processInfo.environment
        if let t = env["ACTSPARSE_THREADS"].flatMap(Int.init), t > 0 { return min(t, ThreadOptions.limit) }
        let allowed = Parallel.availableCores
        let online = ProcessInfo.processInfo.activeProcessorCount
        let local = env["OMPI_COMM_WORLD_LOCAL_SIZE"].flatMap(Int.init) ?? 1
        return allowed < online ? allowed : max(1, allowed / max(1, local))
    }
}

/// How long a rank waits for its peers in a per-token collective before it ends the job.
struct CommOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Seconds a per-token collective may wait for the other ranks before this rank names "
        + "the collective and the peer and aborts the job (default: ACTSPARSE_COMM_TIMEOUT, else 3; 0 = no limit). "
        + "Loading has its own limit, --load-timeout."))
    var commTimeout: Double?
    @Option(help: ArgumentHelp("Seconds the ranks may wait for each other while loading (rank 0 repacks more of the "
        + "model than the others) and at startup (default: ACTSPARSE_LOAD_TIMEOUT, else 600)."))
    var loadTimeout: Double?

    var load: Double {
        if let loadTimeout { return loadTimeout }
        return ProcessInfo.processInfo.environment["ACTSPARSE_LOAD_TIMEOUT"].flatMap(Double.init)
            ?? CommunicatorDefaults.loadTimeout
    }

    var resolved: Double {
        if let commTimeout { return commTimeout }
        return ProcessInfo.processInfo.environment["ACTSPARSE_COMM_TIMEOUT"].flatMap(Double.init)
            ?? CommunicatorDefaults.timeout
    }

    func problem() -> String? {
        for (flag, v) in [("--comm-timeout", resolved), ("--load-timeout", load)] where !(v >= 0 && v.isFinite) {
            return "\(flag) must be a finite number of seconds ≥ 0, found \(v)"
        }
        return nil
    }
}

/// Runs `body` with the world communicator; any error on any rank prints one line naming the rank and ends the
/// whole job through MPI_Abort (never MPI_Finalize after a failure: that hangs the other ranks).
/// The first collective compares every rank's `settings` with rank 0's: a difference ends the job on every rank
/// with one line naming the setting and both values. MPI's start and the setup collectives (before the model is
/// loaded) wait up to the load timeout.
func withWorld(_ timeouts: CommOptions? = nil, settings: JobSettings, _ body: (Communicator) throws -> Void) throws {
    let comm: Communicator
    let load = timeouts?.load ?? CommunicatorDefaults.loadTimeout
    do {
        try FaultInjection.checkEnvironment()
        try FaultInjection.at(.start, rank: World.launcherRank ?? 0)
        comm = try World.start(timeout: load >= 0 && load.isFinite ? load : CommunicatorDefaults.loadTimeout)
        if load >= 0 && load.isFinite { comm.timeout = load }
    } catch {
        FileHandle.standardError.write(Data("actsparse: cannot start MPI: \(error)\n".utf8))
        throw ExitCode(2)
    }
    do {
        try comm.agree(on: settings)
        try body(comm)
    } catch let e as ExitCode {
        throw e
    } catch let mismatch as SettingsMismatch {
        // Every rank knows both values: each says so, all finalize (nothing is in flight).
        StandardError.write("actsparse: rank \(comm.rank)/\(comm.size): \(mismatch)\n")
        comm.finalize()
        throw ExitCode(2)
    } catch let refusal as AgreedRefusal {
        // Every rank refused together (nothing in flight): rank 0 says why, all finalize.
        if let message = refusal.message { FileHandle.standardError.write(Data("actsparse: \(message)\n".utf8)) }
        comm.finalize()
        throw ExitCode(2)
    } catch {
        comm.abort("\(error)", code: 3)
    }
    comm.finalize()
}

/// "--name must be in lo...hi, found v", or nil: the one check every count option gets (counts size buffers and
/// loops, so an absurd one would overflow or allocate without end).
func outside(_ name: String, _ value: Int, _ range: ClosedRange<Int>) -> String? {
    range.contains(value) ? nil : "\(name) must be in \(range.lowerBound)...\(range.upperBound), found \(value)"
}

/// Rank 0 validates and broadcasts a status word before any data; all ranks take the same branch. On a bad
/// configuration every rank leaves together through `AgreedRefusal` (withWorld prints rank 0's line, all finalize).
func agreeOnConfiguration(_ comm: Communicator, _ problem: () -> String?) throws {
    let message = comm.isRoot ? problem() : nil
    guard try comm.agree(status: message == nil ? 0 : 1) == 0 else { throw AgreedRefusal(message: message) }
}
