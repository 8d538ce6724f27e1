import ActSparseTestSupport
import Foundation
import Testing

@Suite("several nodes")
struct MultiNodeTests {
    @Test("2 ranks on two network-namespace nodes over TCP match the 1-rank checksum; a cut link ends the job",
          Requires.root, Requires.mpirun)
    func twoNamespaceNodes() throws {
        let (status, text) = try MPILaunch.script("launch/multinode-check", ["--small"], timeout: 300)
        print(text.split(separator: "\n").filter { $0.hasPrefix("multinode") }.joined(separator: "\n"))
        #expect(status == 0, "\(text)")
        #expect(text.contains("multinode: OK (checksums equal)"), "\(text)")
        // A link cut mid-run: every rank ends by itself within the deadline, the job ends non-zero naming it.
        #expect(text.contains("multinode: OK (cut link ends the job)"), "\(text)")
    }
}
