import ActSparseDistributed
import ActSparseTestSupport
import Foundation
import Testing

@Suite("communicator")
struct CommunicatorTests {
    @Test("single-process communicator: rank 0 of 1, broadcast keeps, gatherv and reduce copy, bad roots and counts throw")
    func local() throws {
        let c = LocalCommunicator()
        #expect(c.rank == 0 && c.size == 1 && c.isRoot)
        var b: [Float] = [1, 2, 3]
        try c.broadcast(&b, count: 3, root: 0)
        #expect(b == [1, 2, 3])
        var out = [Float](repeating: 0, count: 3)
        try c.gatherv(b, count: 3, into: &out, counts: [3], root: 0)
        #expect(out == b)
        var sum = [Float](repeating: 0, count: 3)
        try c.reduceSum(b, into: &sum, count: 3, root: 0)
        #expect(sum == b)
        #expect(throws: CommunicatorError.self) { try c.gatherv(b, count: 3, into: &out, counts: [2], root: 0) }
        #expect(throws: CommunicatorError.self) { try c.broadcast(&b, count: 3, root: 1) }
    }

    @Test("the comm-check command passes without mpirun (single process)")
    func commCheckLocal() throws {
        let r = try MPILaunch.run(["comm-check"])
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.contains("comm-check OK: 1 rank(s)"))
    }
}
