import ActSparse
import ActSparseTestSupport
import Foundation
import Testing

/// Each family's chat turns, chosen from the file's template (or, without one, from its architecture).
@Suite("chat turns per family")
struct ChatTemplateTests {
    func template(_ jinja: String?, arch: String = "llama") throws -> ChatTemplate {
        var tiny = TinyGGUF()
        tiny.linearType = .q8_0
        let path = try TinyGGUF.write(tiny.bytes(mutateKV: { kv in
            kv.removeAll { $0.0 == "tokenizer.chat_template" }
            if let jinja { kv.append(("tokenizer.chat_template", .str(jinja))) }
            if let i = kv.firstIndex(where: { $0.0 == "general.architecture" }) { kv[i].1 = .str(arch) }
            if arch != "llama" {  // the hyper-parameters under the family's prefix
                kv = kv.map { ($0.0.hasPrefix("llama.") ? arch + $0.0.dropFirst("llama".count) : $0.0, $0.1) }
            }
        }))
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try ChatTemplate(gguf: try GGUFFile(path: path))
    }

    @Test("ChatML, Llama-3 and Gemma templates render their own turns; the system text goes where each puts it")
    func styles() throws {
        let chatml = try template("{{'<|im_start|>system\nBe brief.<|im_end|>\n'}}…<|im_start|>")
        #expect(chatml.style == .chatML && chatml.defaultSystem == "Be brief.")
        #expect(chatml.render(user: "Hi") == "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
        let llama3 = try template("{{ '<|start_header_id|>' + role + '<|end_header_id|>\n\n' }}")
        #expect(llama3.style == .llama3)
        #expect(llama3.render(user: "Hi", system: "S") == "<|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|>"
            + "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")
        let gemma = try template("{{ '<start_of_turn>' + role + '\n' }}")
        #expect(gemma.style == .gemma)
        #expect(gemma.render(user: "Hi", system: "S") == "<start_of_turn>user\nS\n\nHi<end_of_turn>\n<start_of_turn>model\n")
    }

    @Test("conversations: every turn in the family's markers; one user turn renders as the single-turn form")
    func conversations() throws {
        let turns = [ChatMessage(.system, "S"), ChatMessage(.user, "A"), ChatMessage(.assistant, "B"), ChatMessage(.user, "C")]
        let chatml = try template("{{'<|im_start|>system\nBe brief.<|im_end|>\n'}}…<|im_start|>")
        #expect(chatml.render(turns) == "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nA<|im_end|>\n"
            + "<|im_start|>assistant\nB<|im_end|>\n<|im_start|>user\nC<|im_end|>\n<|im_start|>assistant\n")
        #expect(chatml.render([ChatMessage(.user, "Hi")]) == chatml.render(user: "Hi"))
        let llama3 = try template("{{ '<|start_header_id|>' + role + '<|end_header_id|>\n\n' }}")
        #expect(llama3.render(turns) == "<|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|>"
            + "<|start_header_id|>user<|end_header_id|>\n\nA<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nB<|eot_id|>"
            + "<|start_header_id|>user<|end_header_id|>\n\nC<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")
        let gemma = try template("{{ '<start_of_turn>' + role + '\n' }}")
        #expect(gemma.render(turns) == "<start_of_turn>user\nS\n\nA<end_of_turn>\n<start_of_turn>model\nB<end_of_turn>\n"
            + "<start_of_turn>user\nC<end_of_turn>\n<start_of_turn>model\n")
        #expect(gemma.render([ChatMessage(.system, "S"), ChatMessage(.user, "Hi")]) == gemma.render(user: "Hi", system: "S"))
    }

    @Test("no template: a Gemma-3 file gets Gemma turns; a Llama file is refused naming the file; others too")
    func fallbacks() throws {
        #expect(try template(nil, arch: "gemma3").style == .gemma)
        #expect(throws: ActSparseError.self) { try template(nil) }
        do {
            _ = try template("{% for m in messages %}[INST] {{ m.content }} [/INST]{% endfor %}")
            Issue.record("a template of none of the three families was accepted")
        } catch {
            #expect("\(error)".contains("chat template is none of ChatML"))
        }
    }
}
