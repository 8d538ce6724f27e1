// libFuzzer entry for the code that reads untrusted bytes: GGUF reader + model loader + one forward step,
// thresholds files, tokenizer. Built by launch/fuzz together with Sources/ActSparse as one module (so it sees
// internal API) with `-sanitize=fuzzer,address`; never part of the SwiftPM package.
// The target is chosen by ACTSPARSE_FUZZ=gguf|thresholds|tokenizer (tokenizer also needs ACTSPARSE_FUZZ_MODEL).
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A dense SwiGLU MLP from the file's tensors (the model takes its MLPs from the caller; the MPI module is not
/// linked here).
final class FuzzMLP: FeedForward {
    let gate: SparseFC, up: SparseFC, down: SparseFC
    let h: SparseActivation, a: SparseActivation
    let g: UnsafeMutablePointer<Float>, u: UnsafeMutablePointer<Float>
    let inter: Int

    init(_ file: GGUFFile, layer l: Int, _ c: LlamaConfig) throws {
        func fc(_ n: String, _ ic: Int, _ oc: Int) throws -> SparseFC {
            SparseFC(weights: try file.plainWeights(try file.tensor("blk.\(l).\(n).weight", dims: [ic, oc])), threads: 1)
        }
        gate = try fc("ffn_gate", c.hidden, c.intermediate)
        up = try fc("ffn_up", c.hidden, c.intermediate)
        down = try fc("ffn_down", c.intermediate, c.hidden)
        h = SparseActivation(width: c.hidden)
        a = SparseActivation(width: c.intermediate)
        g = .allocate(capacity: c.intermediate)
        u = .allocate(capacity: c.intermediate)
        inter = c.intermediate
    }

    deinit { g.deallocate(); u.deallocate() }

    func decode(_ x: UnsafePointer<Float>?, into out: UnsafeMutablePointer<Float>?) throws {
        guard let x, let out else { return }
        try h.keepAll(x, count: h.width)
        try gate.decode(h, into: g)
        try up.decode(h, into: u)
        SwiGLU.apply(gate: g, up: u, into: g, count: inter)
        try a.threshold(g, count: inter, t: 0)
        try down.decode(a, into: out)
    }

    func prefill(_ x: UnsafePointer<Float>?, m: Int, into out: UnsafeMutablePointer<Float>?) throws {
        for r in 0..<m { try decode(x.map { $0 + r * h.width }, into: out.map { $0 + r * h.width }) }
    }
}

/// Files whose weights would take more than this are skipped after the header checks (ASan's RSS limit).
let fuzzWeightLimit = 64 << 20

func fuzzGGUF(_ bytes: UnsafeRawBufferPointer) {
    guard let file = try? GGUFFile(bytes: bytes, name: "fuzz.gguf") else { return }
    let total = file.tensors.values.reduce(0) { $0 + $1.elements }
    guard total <= fuzzWeightLimit / 4 else { return }
    _ = try? ChatTemplate(gguf: file)
    guard let config = try? LlamaConfig(gguf: file), config.layers <= 8 else { return }
    do {
        let model = try LlamaModel(gguf: file, threads: 1, context: 8) { l in try FuzzMLP(file, layer: l, config) }
        let ids = model.tokenizer.encode("The capital of France is", specials: true)
        if !ids.isEmpty { try model.prefill(Array(ids.prefix(4))) }
        try model.decode(Int32(ids.last ?? 0))
        var sampler = Sampler()
        _ = try sampler.sample(model.logits, count: config.vocab)
        _ = model.tokenizer.decode(ids)
    } catch {
        _ = "\(error)"  // a typed error is the expected outcome for most inputs
    }
}

func fuzzThresholds(_ bytes: UnsafeRawBufferPointer) {
    guard let t = try? ThresholdTable.decode(Data(bytes), path: "fuzz.json") else { return }
    for l in 0..<t.layers {  // load() checked layers ≥ 1 and one row per layer
        for s in [0, 0.3, 0.5, 0.99, 1] { _ = t.thresholds(layer: l, gateUp: s, down: s) }
    }
}

/// Loaded once: the tokenizer of ACTSPARSE_FUZZ_MODEL.
nonisolated(unsafe) var fuzzTokenizer: Tokenizer? = {
    guard let p = ProcessInfo.processInfo.environment["ACTSPARSE_FUZZ_MODEL"] else {
        fatalError("ACTSPARSE_FUZZ=tokenizer needs ACTSPARSE_FUZZ_MODEL=<a GGUF file>")
    }
    do { return try Tokenizer(gguf: try GGUFFile(path: p)) } catch { fatalError("\(error)") }
}()

func fuzzTokenizerInput(_ bytes: UnsafeRawBufferPointer) {
    guard let tok = fuzzTokenizer else { return }
    let text = String(decoding: bytes, as: UTF8.self)  // arbitrary bytes: invalid sequences become U+FFFD
    for specials in [false, true] {
        let ids = tok.encode(text, specials: specials)
        let back = tok.decode(tok.bos == nil ? ids : Array(ids.dropFirst()))
        if Array(back.utf8) != text.utf8.filter(tok.encodable) {
            fatalError("decode(encode(x)) != x (specials \(specials)): \(Array(text.utf8)) → \(ids) → \(Array(back.utf8))")
        }
    }
}

let fuzzTarget = ProcessInfo.processInfo.environment["ACTSPARSE_FUZZ"] ?? "gguf"

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    switch fuzzTarget {
    case "thresholds": fuzzThresholds(bytes)
    case "tokenizer": fuzzTokenizerInput(bytes)
    default: fuzzGGUF(bytes)
    }
    return 0
}
