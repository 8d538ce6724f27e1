import ActSparse
import ActSparseTestSupport
import Foundation
import Testing

/// `actsparse serve` as clients meet it: curl and the PyPI `openai` package, one process. (Under mpirun:
/// ServerMPITests.)
@Suite("actsparse serve: the OpenAI API over HTTP", .serialized)
struct ServerTests {
    static let tiny: String? = try? TinyGGUF.write(TinyGGUF().bytes(), name: "serve")

    static func chat(_ content: String, _ extra: String = "") -> String {
        "{\"messages\": [{\"role\": \"user\", \"content\": \(json(content))}]\(extra)}"
    }
    static func json(_ s: String) -> String { String(decoding: try! JSONEncoder().encode(s), as: UTF8.self) }

    @Test("bad input of every class: a 4xx JSON error in OpenAI's shape, and the server keeps serving")
    func badInput() throws {
        let tiny = try #require(Self.tiny)
        let s = try ServerProcess(["--model", tiny, "--sparsity", "0", "--threads", "1", "--context", "64",
                                   "--api-key", "sesame"])
        let key = ["Authorization: Bearer sesame"]
        func expectError(_ r: ServerProcess.HTTPResult, _ status: Int, param: String? = nil, code: String? = nil,
                         _ what: String) {
            let e = r.error
            #expect(r.status == status && e?["message"] is String && e?["type"] is String, "\(what): \(r.status) \(r.body)")
            if let param { #expect(e?["param"] as? String == param, "\(what): \(r.body)") }
            if let code { #expect(e?["code"] as? String == code, "\(what): \(r.body)") }
        }
        let path = "/v1/chat/completions"
        expectError(try s.curl(path, body: Self.chat("the")), 401, code: "invalid_api_key", "no key")
        expectError(try s.curl(path, body: Self.chat("the"), headers: ["Authorization: Bearer wrong"]), 401, "wrong key")
        expectError(try s.curl(path, body: "{\"messages\": [", headers: key), 400, "malformed JSON")
        expectError(try s.curl(path, body: "not json at all", headers: key), 400, "not JSON")
        expectError(try s.curl(path, body: Self.chat("the", ", \"max_tokens\": \"ten\""), headers: key), 400,
                    param: "max_tokens", "max_tokens as a string")
        expectError(try s.curl(path, body: "{\"messages\": \"the\"}", headers: key), 400, param: "messages",
                    "messages as a string")
        expectError(try s.curl(path, body: "{\"messages\": [{\"role\": \"robot\", \"content\": \"x\"}]}", headers: key),
                    400, "unknown role")
        expectError(try s.curl(path, body: Self.chat("the", ", \"temperature\": -1"), headers: key), 400,
                    param: "temperature", "negative temperature")
        expectError(try s.curl(path, body: Self.chat("the", ", \"n\": 2"), headers: key), 400, param: "n", "n = 2")
        expectError(try s.curl(path, body: Self.chat("the", ", \"model\": \"gpt-9\""), headers: key), 404,
                    code: "model_not_found", "unknown model")
        expectError(try s.curl(path, body: Self.chat("the", ", \"max_tokens\": 1000"), headers: key), 400,
                    code: "context_length_exceeded", "max_tokens past the context")
        expectError(try s.curl("/v1/completions", body: "{\"prompt\": \(Self.json(String(repeating: "the ", count: 200)))}",
                               headers: key), 400, code: "context_length_exceeded", "prompt over the context")
        expectError(try s.curl("/v1/completions", body: "{\"max_tokens\": 4}", headers: key), 400, param: "prompt",
                    "no prompt")
        expectError(try s.curl("/v1/nothing", body: "{}", headers: key), 404, "unknown endpoint")
        // 100 MB: refused with 413 from the first megabyte, not read into memory.
        let big = FileManager.default.temporaryDirectory.appendingPathComponent("big-\(UUID()).json").path
        defer { try? FileManager.default.removeItem(atPath: big) }
        let chunk = Data(String(repeating: "a", count: 1 << 20).utf8)
        FileManager.default.createFile(atPath: big, contents: Data("{\"prompt\": \"".utf8))
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: big))
        h.seekToEndOfFile()
        for _ in 0..<100 { h.write(chunk) }
        h.write(Data("\"}".utf8))
        try h.close()
        let huge = try s.curl("/v1/completions", bodyFile: big, headers: key)
        expectError(huge, 413, "a 100 MB body")

        // Still serving: a good request, with usage; the refusals are counted by status.
        let ok = try s.curl(path, body: Self.chat("the", ", \"max_tokens\": 4, \"temperature\": 0"), headers: key)
        let usage = ok.json?["usage"] as? [String: Any]
        #expect(ok.status == 200 && (usage?["completion_tokens"] as? Int ?? 0) >= 1 && (usage?["prompt_tokens"] as? Int ?? 0) > 1,
                "\(ok.body)")
        #expect(try s.curl("/health").status == 200)
        let metrics = try s.curl("/metrics").body
        #expect((ServerProcess.metric(metrics, "actsparse_requests_total", "status=\"400\"") ?? 0) >= 8, "\(metrics)")
        #expect(ServerProcess.metric(metrics, "actsparse_requests_total", "status=\"401\"") == 2, "\(metrics)")
        s.signal(SIGTERM)
        #expect(s.wait(timeout: 30) == 0, "\(s.stderrText)")
    }

    @Test("SmolLM2: curl's stream equals generate --greedy; usage and timings in every answer; /metrics",
          Requires.model)
    func streamEqualsGenerate() throws {
        let model = try #require(RealModel.path)
        let common = ["--model", model, "--sparsity", "0", "--threads", "2"]
        let prompt = "Write one sentence about the sea."
        let gen = try MPILaunch.run(["generate"] + common + ["--chat", "--prompt", prompt, "--tokens", "24", "--greedy", "--json"],
                                    timeout: 300)
        let expected = try #require((try? JSONSerialization.jsonObject(with: Data(gen.out.utf8))) as? [String: Any],
                                    "\(gen.out)\n\(gen.err)")
        let text = try #require(expected["text"] as? String)
        #expect(!text.isEmpty && gen.status == 0)

        let s = try ServerProcess(common)
        let streamed = try s.curl("/v1/chat/completions", body: Self.chat(prompt, ", \"max_tokens\": 24, \"temperature\": 0, \"stream\": true, \"stream_options\": {\"include_usage\": true}"))
        #expect(streamed.status == 200 && streamed.body.trimmingCharacters(in: .whitespacesAndNewlines).hasSuffix("data: [DONE]"), "\(streamed.body)")
        #expect(streamed.streamedText == text, "stream: \(streamed.streamedText.debugDescription)\ngenerate: \(text.debugDescription)")
        let last = streamed.events.last
        #expect((last?["usage"] as? [String: Any])?["completion_tokens"] as? Int == expected["completion_tokens"] as? Int,
                "\(String(describing: last))")
        let finish = streamed.events.compactMap { ($0["choices"] as? [[String: Any]])?.first?["finish_reason"] as? String }
        #expect(finish == [expected["finish_reason"] as? String == "stop" ? "stop" : "length"], "\(finish)")

        let whole = try s.curl("/v1/chat/completions", body: Self.chat(prompt, ", \"max_tokens\": 24, \"temperature\": 0"))
        let message = ((whole.json?["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any])?["content"] as? String
        #expect(whole.status == 200 && message == text, "\(whole.body)")
        let usage = whole.json?["usage"] as? [String: Any]
        #expect(usage?["prompt_tokens"] as? Int == expected["prompt_tokens"] as? Int
                && usage?["total_tokens"] as? Int == (usage?["prompt_tokens"] as? Int ?? 0) + (usage?["completion_tokens"] as? Int ?? -1))
        #expect((whole.json?["timings"] as? [String: Any])?["predicted_per_second"] is Double)

        let raw = try MPILaunch.run(["generate"] + common + ["--prompt", "The sea is", "--tokens", "12", "--json"], timeout: 300)
        let rawText = ((try? JSONSerialization.jsonObject(with: Data(raw.out.utf8))) as? [String: Any])?["text"] as? String
        let completion = try s.curl("/v1/completions", body: "{\"prompt\": \"The sea is\", \"max_tokens\": 12, \"temperature\": 0, \"stream\": true}")
        #expect(rawText != nil && completion.streamedText == rawText, "\(completion.body)")

        let models = try s.curl("/v1/models").json?["data"] as? [[String: Any]]
        #expect(models?.count == 1 && (models?.first?["id"] as? String).map { !$0.isEmpty } == true)
        let metrics = try s.curl("/metrics").body
        #expect(ServerProcess.metric(metrics, "actsparse_requests_total", "endpoint=\"/v1/chat/completions\",status=\"200\"") == 2, "\(metrics)")
        #expect((ServerProcess.metric(metrics, "actsparse_completion_tokens_total") ?? 0) >= 3 && ServerProcess.metric(metrics, "actsparse_queue_depth") == 0, "\(metrics)")
        #expect(metrics.contains("actsparse_realized_sparsity{") && metrics.contains("actsparse_decode_tokens_per_second{"))
        s.signal(SIGTERM)
        #expect(s.wait(timeout: 30) == 0, "\(s.stderrText)")
    }

    @Test("the PyPI openai client: chat and completions, streaming and not, errors as exceptions", Requires.model,
          .enabled(if: OpenAIClient.available, "the openai package is missing — launch/test installs it (pip install openai)"))
    func openaiClient() throws {
        let model = try #require(RealModel.path)
        let s = try ServerProcess(["--model", model, "--sparsity", "0", "--threads", "2", "--api-key", "k1"])
        let r = try OpenAIClient.python(OpenAIClient.smokeScript, args: [s.url, "k1"])
        #expect(r.status == 0, "\(r.out)")
        let o = try #require((try? JSONSerialization.jsonObject(with: Data(r.out.utf8))) as? [String: Any], "\(r.out)")
        let text = o["text"] as? String ?? ""
        #expect(!text.isEmpty && o["stream"] as? String == text, "\(o)")
        #expect((o["usage"] as? Int ?? 0) >= 1 && ["stop", "length"].contains(o["finish"] as? String ?? ""))
        #expect(!(o["completion"] as? String ?? "").isEmpty && (o["models"] as? [String])?.count == 1)
        #expect(o["missing"] as? String == "NotFoundError", "\(o)")
        s.signal(SIGTERM)
        #expect(s.wait(timeout: 30) == 0)
    }

    @Test("a full queue answers 429 with Retry-After; SIGTERM stops accepting, ends the queued request with 503, finishes the running one, exits 0", Requires.model)
    func queueAndShutdown() throws {
        let model = try #require(RealModel.path)
        let s = try ServerProcess(["--model", model, "--sparsity", "0", "--threads", "1", "--queue", "1"])
        let (running, runningOut) = try s.curlInBackground("/v1/completions",
            body: "{\"prompt\": \"Once upon a time\", \"max_tokens\": 300, \"ignore_eos\": true}")
        try s.waitForQueue(1)
        let (queued, queuedOut) = try s.curlInBackground("/v1/completions", body: "{\"prompt\": \"Hello\", \"max_tokens\": 4}")
        try s.waitForQueue(2)
        let refused = try s.curl("/v1/completions", body: "{\"prompt\": \"Hi\", \"max_tokens\": 4}")
        #expect(refused.status == 429 && refused.headers.lowercased().contains("retry-after:")
                && refused.error?["type"] as? String == "rate_limit_error", "\(refused.status) \(refused.headers) \(refused.body)")
        s.signal(SIGTERM)
        let status = s.wait(timeout: 60)
        running.waitUntilExit()
        queued.waitUntilExit()
        let first = String(decoding: runningOut.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let second = String(decoding: queuedOut.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(first.hasSuffix("\n200") && first.contains("\"completion_tokens\""), "running: \(first)")
        #expect(second.hasSuffix("\n503") && second.contains("\"error\""), "queued: \(second)")
        #expect(status == 0, "\(s.stderrText)")
        #expect(try ServerProcess.curl(s.url + "/health", timeout: 5).status == 0, "still accepting after it exited")
    }
}
