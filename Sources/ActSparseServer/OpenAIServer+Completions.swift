import ActSparse
import ActSparseGeneration
import Foundation
import Hummingbird
import NIOCore

extension OpenAIServer {
    struct Usage: Encodable {
        var prompt_tokens: Int, completion_tokens: Int, total_tokens: Int
        init(_ u: GenerationUsage) {
            prompt_tokens = u.promptTokens
            completion_tokens = u.completionTokens
            total_tokens = u.promptTokens + u.completionTokens
        }
    }
    /// llama.cpp's `timings` extension, with the sparsity realized.
    struct Timings: Encodable {
        var prompt_n: Int, prompt_ms: Double, predicted_n: Int, predicted_ms: Double, predicted_per_second: Double
        var queue_ms: Double
        /// [attention, output, gate_up, down]
        var realized_sparsity: [Double]
        init(_ u: GenerationUsage) {
            prompt_n = u.promptTokens
            prompt_ms = u.prefillSeconds * 1e3
            predicted_n = u.completionTokens
            predicted_ms = u.decodeSeconds * 1e3
            predicted_per_second = u.tokensPerSecond
            queue_ms = max(0, u.queueSeconds) * 1e3
            realized_sparsity = u.realizedSparsity
        }
    }
    struct Choice: Encodable {
        struct Message: Encodable {
            var role: String? = "assistant"
            var content: String?
        }
        var index = 0
        var message: Message?
        var delta: Message?
        var text: String?
        var finish_reason: String?
        var logprobs: String? = nil

        enum CodingKeys: String, CodingKey { case index, message, delta, text, finish_reason, logprobs }
        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(index, forKey: .index)
            try c.encodeIfPresent(message, forKey: .message)
            try c.encodeIfPresent(delta, forKey: .delta)
            try c.encodeIfPresent(text, forKey: .text)
            try c.encode(finish_reason, forKey: .finish_reason)  // null while streaming
            try c.encodeNil(forKey: .logprobs)
        }
    }
    struct Answer: Encodable {
        var id: String, object: String, created: Int, model: String
        var choices: [Choice]
        var usage: Usage?
        var timings: Timings?
        var system_fingerprint: String
    }

    /// OpenAI's finish reasons: a timeout ends the answer as a length limit does.
    static func finish(_ r: FinishReason) -> String {
        switch r {
        case .stop: return "stop"
        case .length, .timeout: return "length"
        case .cancelled: return "cancelled"
        }
    }

    static func api(_ e: GeneratorError) -> APIError {
        switch e {
        case .invalidRequest(let m): return .invalid(m)
        case .promptTooLong, .exceedsContext:
            return .invalid(e.description, param: "messages", code: "context_length_exceeded")
        case .queueFull:
            return APIError(status: .tooManyRequests, message: e.description, type: "rate_limit_error",
                            code: "queue_full", retryAfter: 2)
        case .unavailable:
            return APIError(status: .serviceUnavailable, message: e.description, type: "server_error",
                            code: "unavailable", retryAfter: 5)
        case .timedOut:
            return APIError(status: .serviceUnavailable, message: e.description, type: "server_error",
                            code: "timeout", retryAfter: 5)
        }
    }

    func complete(_ request: Request, chat: Bool) async throws -> Response {
        let buffer: ByteBuffer
        do { buffer = try await request.body.collect(upTo: options.maxBodyBytes) } catch is NIOTooManyBytesError {
            throw APIError(status: .contentTooLarge, message: "the request body is larger than \(options.maxBodyBytes) bytes",
                           type: "invalid_request_error", code: "request_too_large")
        }
        let req = try OpenAIRequest.decode(Data(buffer: buffer))
        if let model = req.model, !serves(model) {
            throw APIError(status: .notFound, message: "model '\(model)' does not exist; this server has '\(generator.name)'",
                           type: "invalid_request_error", param: "model", code: "model_not_found")
        }
        let parameters = try req.parameters(timeout: options.requestTimeout)
        let prompt: Prompt = chat ? .chat(try req.chat()) : .text(try req.completionPrompt())
        let stream: AsyncThrowingStream<GenerationEvent, Error>
        do { stream = try generator.generate(prompt, parameters: parameters) } catch let e as GeneratorError {
            throw OpenAIServer.api(e)
        }
        let n = sequence.add(1, ordering: .relaxed).newValue
        let id = (chat ? "chatcmpl-" : "cmpl-") + "\(getpid())-\(n)"
        let object = chat ? "chat.completion" : "text_completion"
        let fingerprint = "actsparse-\(BuildInfo.version)"
        let created = Int(Date().timeIntervalSince1970)
        @Sendable func answer(_ choice: Choice, usage: GenerationUsage?, chunk: Bool) -> Answer {
            Answer(id: id, object: chunk && chat ? object + ".chunk" : object, created: created, model: generator.name,
                   choices: [choice], usage: usage.map(Usage.init), timings: usage.map(Timings.init),
                   system_fingerprint: fingerprint)
        }

        guard req.stream == true else {
            var text = ""
            do {
                for try await event in stream {
                    switch event {
                    case .text(let t): text += t
                    case .finished(let r):
                        metrics.record(r.usage)
                        let choice = chat ? Choice(message: .init(content: text), finish_reason: OpenAIServer.finish(r.finishReason))
                            : Choice(text: text, finish_reason: OpenAIServer.finish(r.finishReason))
                        return try OpenAIServer.json(answer(choice, usage: r.usage, chunk: false))
                    }
                }
            } catch let e as GeneratorError { throw OpenAIServer.api(e) }
            throw APIError(status: .internalServerError, message: "the generation ended without a result", type: "server_error")
        }

        let includeUsage = req.stream_options?.include_usage == true
        let metrics = self.metrics
        let body = ResponseBody { writer in
            func send(_ a: some Encodable) async throws {
                var b = ByteBuffer(string: "data: ")
                b.writeBytes(try JSONEncoder.api.encode(a))
                b.writeString("\n\n")
                try await writer.write(b)
            }
            if chat { try await send(answer(Choice(delta: .init(content: "")), usage: nil, chunk: true)) }
            do {
                for try await event in stream {
                    switch event {
                    case .text(let t):
                        try await send(answer(chat ? Choice(delta: .init(role: nil, content: t)) : Choice(text: t), usage: nil, chunk: true))
                    case .finished(let r):
                        metrics.record(r.usage)
                        let reason = OpenAIServer.finish(r.finishReason)
                        try await send(answer(chat ? Choice(delta: .init(role: nil, content: nil), finish_reason: reason)
                                                   : Choice(text: "", finish_reason: reason), usage: nil, chunk: true))
                        if includeUsage {
                            var last = answer(Choice(), usage: r.usage, chunk: true)
                            last.choices = []
                            try await send(last)
                        }
                    }
                }
            } catch let e as GeneratorError {
                // Headers are out: the error travels as an event, as OpenAI's API does mid-stream.
                var b = ByteBuffer(string: "data: ")
                b.writeBytes(OpenAIServer.api(e).json)
                b.writeString("\n\n")
                try await writer.write(b)
            }
            try await writer.write(ByteBuffer(string: "data: [DONE]\n\n"))
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"], body: body)
    }
}
