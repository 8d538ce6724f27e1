import ActSparseDistributed
import Foundation
#if MPI
import ActSparseMPI
#endif

/// This process's communicator: MPI's world when mpirun started it (in a build with the MPI trait), else one
/// process. The only place the CLI decides between the two.
enum World {
    /// Whether this binary can run several ranks (`swift build --traits MPI`).
    #if MPI
    static let hasMPI = true
    #else
    static let hasMPI = false
    #endif

    /// Ranks the launcher started, if one did (Open MPI's and PMI's variables).
    static var launcherSize: Int? {
        let env = ProcessInfo.processInfo.environment
        return (env["OMPI_COMM_WORLD_SIZE"] ?? env["PMI_SIZE"]).flatMap { Int($0) }
    }

    /// This process's rank as the launcher numbered it (before MPI starts).
    static var launcherRank: Int? {
        let env = ProcessInfo.processInfo.environment
        return (env["OMPI_COMM_WORLD_RANK"] ?? env["PMI_RANK"]).flatMap { Int($0) }
    }

    /// `timeout`: seconds MPI's start may wait for the other ranks (a rank stuck before it would otherwise keep
    /// every other one inside MPI_Init_thread for ever).
    static func start(timeout: Double = CommunicatorDefaults.loadTimeout) throws -> Communicator {
        #if MPI
        return try MPICommunicator.world(startTimeout: timeout)
        #else
        // Without MPI every process would think it is rank 0 of 1 and decode alone: refuse instead.
        if let n = launcherSize, n > 1 {
            throw CommunicatorError.argument("mpirun started \(n) ranks, but this actsparse was built without MPI: "
                + "build it with `swift build -c release --traits MPI` (launch/build does)")
        }
        return LocalCommunicator()
        #endif
    }
}
