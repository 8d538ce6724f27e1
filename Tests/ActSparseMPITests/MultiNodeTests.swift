import Foundation
import Testing

@Suite("several nodes")
struct MultiNodeTests {
    /// The repository root, from this file's path.
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    @Test("2 ranks on two network-namespace nodes over TCP (launch/mpirun --hostfile) match the 1-rank checksum")
    func twoNamespaceNodes() throws {
        guard getuid() == 0 else {
            print("SKIPPED: the multinode test needs root to build network namespaces")
            return
        }
        guard MPILaunch.mpirun != nil else {
            print("SKIPPED: mpirun not found — launch/test installs openmpi-bin")
            return
        }
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
    }
}
