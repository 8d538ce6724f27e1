import ActSparse
import ActSparseDistributed
import ActSparseGeneration
import ActSparseTestSupport
import Foundation
import Synchronization
import Testing

/// The Swift API the CLI and the server are built on, on a tiny synthetic model (runs everywhere).
@Suite("Generator: prompts, stops, queue, cancellation")
struct GeneratorTests {
    static let path: String? = try? TinyGGUF.write(TinyGGUF().bytes(), name: "generator")

    func generator(queue: Int = 4, context: Int = 96) throws -> Generator {
        let path = try #require(Self.path)
        let llm = try DistributedLlama(comm: LocalCommunicator(), path: path, mode: .reduce, threads: 2, context: context)
        return try Generator(llm: llm, name: "tiny", plan: .dense(layers: llm.config.layers), table: nil, queueLimit: queue)
    }

    /// Greedy, a fixed length (the tiny model's end of sequence ignored).
    func fixed(_ n: Int) -> GenerationParameters {
        var p = GenerationParameters(maxTokens: n)
        p.ignoreEndOfSequence = true
        return p
    }

    @Test("the stream of a queued request equals the same request run on the calling thread")
    func streamEqualsRun() async throws {
        let g = try generator()
        let direct = try g.run(.text("the the"), parameters: fixed(12)) { _ in }
        #expect(direct.tokens.count == 12 && direct.finishReason == .length && direct.usage.completionTokens == 12)
        let driver = Thread { try? g.serveQueue() }
        driver.start()
        defer { g.close() }
        var text = "", result: GenerationResult?
        for try await e in try g.generate(.text("the the"), parameters: fixed(12)) {
            switch e {
            case .text(let t): text += t
            case .finished(let r): result = r
            }
        }
        let r = try #require(result)
        #expect(r.tokens == direct.tokens && r.text == direct.text && text == direct.text)
        #expect(r.usage.promptTokens == direct.usage.promptTokens && r.usage.decodeSteps == 11)
    }

    @Test("stop strings: text before the first is returned, split over tokens or not; held-back text comes out at the end")
    func stops() throws {
        var m = StopMatcher(["END", "o w"])
        #expect(m.push("abc E") == ("abc ", false))
        #expect(m.push("x") == ("Ex", false))
        #expect(m.push("Hello") == ("Hell", false))  // "o" may start "o w"
        #expect(m.push(" world") == ("", true))
        var n = StopMatcher(["END"])
        #expect(n.push("tail EN") == ("tail ", false) && n.flush() == "EN")
        var none = StopMatcher([])
        #expect(none.push("END") == ("END", false))

        let g = try generator()
        let full = try g.run(.text("the"), parameters: fixed(24)) { _ in }
        // A stop string taken from the middle of the greedy text: the answer ends right before it.
        let chars = Array(full.text)
        try #require(chars.count >= 8, "\(full.text.debugDescription)")
        let stop = String(chars[chars.count / 2..<chars.count / 2 + 2])
        var p = fixed(24)
        p.stop = [stop]
        var streamed = ""
        let r = try g.run(.text("the"), parameters: p) { streamed += $0 }
        let before = String(full.text[..<full.text.range(of: stop)!.lowerBound])
        #expect(r.finishReason == .stop && r.text == before && streamed == before, "stop \(stop.debugDescription)")
    }

    @Test("requests past the queue limit are refused at once; closing fails the queued ones")
    func queueFull() async throws {
        let g = try generator(queue: 1)  // no driving thread: nothing leaves the queue
        let first = try g.generate(.text("the"), parameters: fixed(4))
        #expect(g.queueDepth == 1)
        #expect(throws: GeneratorError.queueFull(limit: 1)) { _ = try g.generate(.text("the"), parameters: fixed(4)) }
        g.close(failQueued: true)
        await #expect(throws: GeneratorError.self) { for try await _ in first {} }
        #expect(throws: GeneratorError.self) { _ = try g.generate(.text("the"), parameters: fixed(4)) }
    }

    @Test("cancellation and deadlines end a generation at the next token")
    func cancel() async throws {
        let g = try generator()
        let ids = try g.tokens(for: .text("the"), parameters: fixed(60))
        var pieces = 0
        let r = try g.run(tokens: ids, parameters: fixed(60), isCancelled: { pieces >= 3 }) { _ in pieces += 1 }
        #expect(r.finishReason == .cancelled && r.tokens.count <= 4, "\(r.tokens.count) tokens")
        let late = try g.run(tokens: ids, parameters: fixed(60), deadline: Timing.now()) { _ in }
        #expect(late.finishReason == .timeout && late.tokens.count == 1)
        // A consumer that leaves a stream early frees the model for the next request.
        let driver = Thread { try? g.serveQueue() }
        driver.start()
        defer { g.close() }
        for try await e in try g.generate(.text("the"), parameters: fixed(80)) {
            if case .text = e { break }
        }
        var next: GenerationResult?
        for try await e in try g.generate(.text("the"), parameters: fixed(3)) { if case .finished(let r) = e { next = r } }
        #expect(next?.tokens.count == 3)
        let deadline = Date().addingTimeInterval(5)  // the driving thread marks the job done after its last event
        while g.queueDepth > 0 && Date() < deadline { try await Task.sleep(for: .milliseconds(1)) }
        #expect(g.queueDepth == 0)
    }

    @Test("bad requests are refused before anything runs, naming what is wrong")
    func refusals() throws {
        let g = try generator(context: 32)
        #expect(throws: GeneratorError.invalidRequest("maxTokens must be ≥ 1, found 0")) {
            _ = try g.tokens(for: .text("the"), parameters: GenerationParameters(maxTokens: 0))
        }
        #expect(throws: GeneratorError.self) { _ = try g.tokens(for: .text(String(repeating: "the ", count: 40)), parameters: .init()) }
        let the = try g.tokens(for: .text("the"), parameters: .init()).count
        #expect(throws: GeneratorError.exceedsContext(prompt: the, maxTokens: 40, context: 32)) {
            _ = try g.tokens(for: .text("the"), parameters: GenerationParameters(maxTokens: 40))
        }
        #expect(throws: GeneratorError.self) { _ = try g.tokens(for: .chat([]), parameters: .init()) }
        #expect(throws: GeneratorError.self) { _ = try g.tokens(for: .tokens([999_999]), parameters: .init()) }
        #expect(throws: GeneratorError.self) { _ = try g.tokens(for: .text("the"), parameters: .init(topP: 0)) }
        #expect(throws: GeneratorError.self) { _ = try g.tokens(for: .text("the"), parameters: .init(stop: [""])) }
        #expect(throws: GeneratorError.self) {  // the template's default system turn alone outgrows 32 tokens
            _ = try g.tokens(for: .chat([ChatMessage(.user, "the"), ChatMessage(.assistant, "the")]), parameters: .init())
        }
    }

    @Test("repeat penalty: a strong one keeps recent tokens out of the greedy choice")
    func repeatPenalty() throws {
        let g = try generator()
        var p = fixed(8)
        p.repeatPenalty = 1e6
        p.repeatWindow = 64
        let ids = try g.tokens(for: .text("the"), parameters: p)
        let r = try g.run(tokens: ids, parameters: p) { _ in }
        #expect(Set(r.tokens).count == r.tokens.count && Set(r.tokens).isDisjoint(with: ids), "\(ids) → \(r.tokens)")
        let plain = try g.run(tokens: ids, parameters: fixed(8)) { _ in }
        #expect(Set(plain.tokens).count < plain.tokens.count || !Set(plain.tokens).isDisjoint(with: ids),
                "greedy without a penalty already avoids repeats: the test shows nothing (\(plain.tokens))")
    }

    @Test("top-k and min-p keep only the most likely tokens")
    func samplerCuts() throws {
        // Logits: token i has logit i / 2 (vocab 40): token 39 is the most likely.
        let logits = (0..<40).map { Float($0) / 2 }
        func picks(_ make: (UInt64) -> Sampler) throws -> Set<Int32> {
            var out = Set<Int32>()
            for seed in 1...300 {
                var s = make(UInt64(seed))
                var l = logits
                out.insert(try s.sample(&l, count: l.count))
            }
            return out
        }
        #expect(try picks { Sampler(temperature: 1, topK: 1, seed: $0) } == [39])
        let top3 = try picks { Sampler(temperature: 1, topK: 3, seed: $0) }
        #expect(top3.isSubset(of: [37, 38, 39]) && top3.count >= 2, "\(top3)")
        #expect(try picks { Sampler(temperature: 1, minP: 1, seed: $0) } == [39])
        // min-p 0.3: p(i)/p(39) = e^{(i-39)/2} ≥ 0.3 keeps 39, 38, 37 (e^-1 = 0.37) and drops 36 (e^-1.5 = 0.22).
        let minP = try picks { Sampler(temperature: 1, minP: 0.3, seed: $0) }
        #expect(minP.isSubset(of: [37, 38, 39]) && minP.count == 3, "\(minP)")
        let open = try picks { Sampler(temperature: 1, seed: $0) }
        #expect(open.count > 5, "without cuts more tokens are drawn: \(open)")
    }

    @Test("Generator.load (the README's example): its own driving thread, chat turns in, a stream out")
    func loadAndStream() async throws {
        let path = try #require(Self.path)
        let generator = try Generator.load(model: path, options: .init(threads: 1, context: 128, sparsity: .dense))
        defer { generator.close() }
        var text = "", result: GenerationResult?
        let stream = try generator.generate(.chat([ChatMessage(.user, "the")]),
                                            parameters: GenerationParameters(maxTokens: 8))
        for try await event in stream {
            switch event {
            case .text(let piece): text += piece
            case .finished(let r): result = r
            }
        }
        let r = try #require(result)
        #expect(r.text == text && r.usage.completionTokens == r.tokens.count && r.usage.promptTokens > 1)
        #expect(generator.name == "generator" || !generator.name.isEmpty)
    }
}
