import Foundation
import Testing

@Suite("several nodes")
struct MultiNodeTests {
    /// The repository root, from this file's path.
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    @Test("2 ranks on two network-namespace nodes over TCP match the 1-rank checksum; a cut link ends the job",
          Requires.root, Requires.mpirun)
    func twoNamespaceNodes() throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
        p.arguments = ["-k", "5", "300", Self.root.appendingPathComponent("launch/multinode-check").path, "--small"]
        var env = ProcessInfo.processInfo.environment
        env["ACTSPARSE_BIN"] = MPILaunch.actsparse  // the binary built with the tests: no second build
        p.environment = env
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        print(text.split(separator: "\n").filter { $0.hasPrefix("multinode") }.joined(separator: "\n"))
        #expect(p.terminationStatus == 0, "\(text)")
        #expect(text.contains("multinode: OK (checksums equal)"), "\(text)")
        // A link cut mid-run: every rank ends by itself within the deadline, the job ends non-zero naming it.
        #expect(text.contains("multinode: OK (cut link ends the job)"), "\(text)")
    }
}
