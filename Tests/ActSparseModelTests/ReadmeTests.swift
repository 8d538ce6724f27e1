import ActSparseTestSupport
import Foundation
import Testing

/// The README's quick start, run line by line as written (the binary on PATH, the server on a free port).
@Suite("README commands")
struct ReadmeTests {
    /// The lines of the first ```sh block after the "Quick start" heading.
    static func quickStart() throws -> [String] {
        let readme = try String(contentsOf: Repository.root.appendingPathComponent("README.md"), encoding: .utf8)
        guard let heading = readme.range(of: "### Quick start"),
              let open = readme.range(of: "```sh\n", range: heading.upperBound..<readme.endIndex),
              let close = readme.range(of: "\n```", range: open.upperBound..<readme.endIndex) else { return [] }
        return readme[open.upperBound..<close.lowerBound].split(separator: "\n").map(String.init)
    }

    /// A line as a user's shell runs it: the binary on PATH, in the repository, `openai` importable.
    static func shell(_ line: String, timeout: Int = 300) throws -> (status: Int32, out: String, err: String) {
        try OpenAIClient.timed(["/bin/sh", "-c", line], timeout: timeout, extraPath: MPILaunch.binDir.path,
                               directory: Repository.root)
    }

    @Test("every quick-start line runs as written and prints something", Requires.model,
          .enabled(if: OpenAIClient.available, "the openai package is missing — launch/test installs it (pip install openai)"))
    func quickStartRuns() throws {
        let lines = try Self.quickStart()
        #expect(lines.count >= 6 && lines.contains { $0.hasPrefix("actsparse serve") } && lines.contains { $0.hasPrefix("curl") },
                "\(lines)")
        var server: ServerProcess?
        defer { server?.signal(SIGTERM); _ = server?.wait(timeout: 30) }
        for line in lines {
            if line.hasPrefix("actsparse serve") {
                // `actsparse serve --port 8080 &`: the same options, a free port.
                var args = line.dropFirst("actsparse serve".count).split(separator: " ").map(String.init).filter { $0 != "&" }
                if let i = args.firstIndex(of: "--port") { args.removeSubrange(i...(i + 1)) }
                server = try ServerProcess(args)
                continue
            }
            var command = line
            if let url = server?.url { command = command.replacingOccurrences(of: "http://127.0.0.1:8080", with: url) }
            let r = try Self.shell(command)
            #expect(r.status == 0 && !r.out.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty,
                    "\(line)\nexit \(r.status)\n\(r.out)\n\(r.err)")
            if line.hasPrefix("curl") { #expect(r.out.contains("data: [DONE]"), "\(r.out)") }
        }
    }
}
