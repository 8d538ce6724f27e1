import ActSparse
import ActSparseTestSupport
import Foundation
import Testing

/// `actsparse serve` under mpirun: rank 0 listens, the other ranks follow the same per-token protocol.
@Suite("actsparse serve under mpirun", .serialized)
struct ServerMPITests {
    static func chat(_ content: String, _ extra: String) -> String {
        "{\"messages\": [{\"role\": \"user\", \"content\": \"\(content)\"}]\(extra)}"
    }

    @Test("2 ranks: curl's stream equals generate --greedy on 2 ranks, the openai client works, an idle follower sleeps, SIGUSR1 stops the job with exit 0", Requires.model, Requires.mpirun)
    func twoRanks() throws {
        let model = try #require(RealModel.path)
        let common = ["--model", model, "--sparsity", "0", "--threads", "1"]
        let prompt = "Write one sentence about the sea."
        let gen = try MPILaunch.run(["generate"] + common + ["--chat", "--prompt", prompt, "--tokens", "20", "--greedy", "--json"],
                                    ranks: 2, timeout: 300)
        let text = ((try? JSONSerialization.jsonObject(with: Data(gen.out.utf8))) as? [String: Any])?["text"] as? String
        #expect(gen.status == 0 && text?.isEmpty == false, "\(gen.out)\n\(gen.err)")

        let s = try ServerProcess(common, ranks: 2)
        let streamed = try s.curl("/v1/chat/completions",
                                  body: Self.chat(prompt, ", \"max_tokens\": 20, \"temperature\": 0, \"stream\": true"))
        #expect(streamed.status == 200 && streamed.streamedText == text,
                "stream: \(streamed.streamedText.debugDescription)\ngenerate on 2 ranks: \(String(describing: text))")
        if OpenAIClient.available {
            let r = try OpenAIClient.python(OpenAIClient.smokeScript, args: [s.url, "none"])
            let o = (try? JSONSerialization.jsonObject(with: Data(r.out.utf8))) as? [String: Any]
            #expect(r.status == 0 && o?["stream"] as? String == o?["text"] as? String && o?["missing"] as? String == "NotFoundError", "\(r.out)")
        } else {
            Issue.record("the openai package is missing — launch/test installs it (pip install openai)")
        }
        // Between requests every rank waits without spinning a core.
        let ranks = s.ranks()
        #expect(ranks.count == 2, "ranks: \(ranks)")
        Thread.sleep(forTimeInterval: 1)
        let before = ranks.map { ServerProcess.cpuSeconds($0) ?? 0 }
        Thread.sleep(forTimeInterval: 2)
        let used = zip(ranks.map { ServerProcess.cpuSeconds($0) ?? 0 }, before).map { $0 - $1 }
        #expect(used.allSatisfy { $0 < 0.1 }, "CPU seconds per rank over 2 idle seconds: \(used)")
        s.signal(SIGUSR1)
        #expect(s.wait(timeout: 30) == 0, "\(s.stderrText)")
    }

    @Test("kill -9 of a follower: the request in flight gets a 503 (an error event mid-stream) and the job exits non-zero within 5 s", Requires.model, Requires.mpirun)
    func followerLost() throws {
        let model = try #require(RealModel.path)
        let s = try ServerProcess(["--model", model, "--sparsity", "0", "--threads", "1"], ranks: 2)
        let ranks = s.ranks()
        try #require(ranks.count == 2, "ranks: \(ranks)")
        let (streaming, streamOut) = try s.curlInBackground("/v1/completions",
            body: "{\"prompt\": \"Once upon a time\", \"max_tokens\": 1500, \"ignore_eos\": true, \"stream\": true}")
        try s.waitForQueue(1)
        let (waiting, waitOut) = try s.curlInBackground("/v1/completions", body: "{\"prompt\": \"Hello\", \"max_tokens\": 4}")
        try s.waitForQueue(2)
        Thread.sleep(forTimeInterval: 0.5)
        let t0 = Date()
        kill(ranks[1], SIGKILL)
        let status = s.wait(timeout: 30)
        let seconds = Date().timeIntervalSince(t0)
        streaming.waitUntilExit()
        waiting.waitUntilExit()
        let stream = String(decoding: streamOut.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let queued = String(decoding: waitOut.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(status != nil && status != 0, "exit \(String(describing: status))\n\(s.stderrText)")
        #expect(seconds < 5, "took \(seconds) s\n\(s.stderrText)")
        #expect(stream.contains("data: {\"error\"") && stream.contains("\"unavailable\""), "stream: …\(stream.suffix(400))")
        #expect(queued.hasSuffix("\n503"), "queued: \(queued)")
    }
}

/// The launch scripts a user runs: launch/serve (started and stopped by launch/load) on 2 ranks.
@Suite("launch/serve and launch/load")
struct LaunchServeTests {
    @Test("a short launch/load against launch/serve --ranks 2: nothing lost or hung, SIGTERM stops the job with exit 0",
          Requires.model, Requires.mpirun)
    func shortLoad() throws {
        let r = try MPILaunch.script("launch/load", ["--clients", "8", "--requests", "2", "--tokens", "8", "--ranks", "2"],
                                     timeout: 600)
        #expect(r.status == 0, "\(r.text)")
        #expect(r.text.contains("answered 16, refused 0") && r.text.contains("lost 0, hung 0"), "\(r.text)")
        #expect(r.text.contains("latency p50") && r.text.contains("RSS MB per process"), "\(r.text)")
        #expect(r.text.contains("server stopped (SIGTERM): exit 0"), "\(r.text)")
    }
}
