import ActSparseTestSupport
import Foundation
import Testing

@Suite("communicator under mpirun")
struct CommunicatorMPITests {
    @Test("MPI: bcast, gatherv with uneven counts, reduce, agree under mpirun -np 2 and 3", Requires.mpirun,
          arguments: [2, 3])
    func mpi(ranks: Int) throws {
        let r = try MPILaunch.run(["comm-check"], ranks: ranks, timeout: 60)
        #expect(r.status == 0, "mpirun -np \(ranks) comm-check failed: \(r.err)")
        #expect(r.out.contains("comm-check OK: \(ranks) rank(s)"), "\(r.out)")
    }
}
