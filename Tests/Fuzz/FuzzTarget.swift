// libFuzzer entry for the code that reads untrusted bytes: GGUF reader + model loader + one forward step,
// thresholds files, tokenizer. Built by launch/fuzz together with Sources/ActSparse as one module (so it sees
// internal API) with `-sanitize=fuzzer,address`; never part of the SwiftPM package.
// The target is chosen by ACTSPARSE_FUZZ=gguf|thresholds|tokenizer (tokenizer also needs ACTSPARSE_FUZZ_MODEL).
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Files whose weights would take more than this are skipped after the header checks (ASan's RSS limit).
let fuzzWeightLimit = 64 << 20

func fuzzGGUF(_ bytes: UnsafeRawBufferPointer) {
    do {
        let file = try GGUFFile(bytes: bytes, name: "fuzz.gguf")
        _ = try? ChatTemplate(gguf: file)
        let config = try LlamaConfig(gguf: file)
        let total = file.tensors.values.reduce(0) { $0 + $1.elements }
        if total > fuzzWeightLimit / 4 || config.layers > 8 { throw ActSparseError.invalidValue(
            what: "fuzz input", expected: "small weights", found: "\(total) elements") }
        let model = try LlamaModel(gguf: file, threads: 1, context: 8) { l in try DenseMLP(gguf: file, layer: l, config: config, threads: 1) }
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
    let t = (try? ThresholdTable.decode(Data(bytes), path: "fuzz.json"))
    for l in 0..<(t?.layers ?? 0) {  // decode() checked layers ≥ 1 and one row per layer
        for s in [0, 0.3, 0.5, 0.99, 1] { _ = t?.thresholds(layer: l, gateUp: s, down: s) }
    }
    if let t { fuzzPlans(t) }
}

/// Every plan a validated thresholds file can produce, turned into thresholds: typed errors only, no trap.
func fuzzPlans(_ t: ThresholdTable) {
    for budget in [0, 0.1, 1e9] { if let p = try? t.plan(budget: budget) { _ = try? t.thresholds(p); _ = t.bytesSaved(p) } }
    for goal in [0.0, 0.3, 0.99] {
        for wide in [false, true] {
            if let p = try? t.allocate(byteSparsity: goal, modelWide: wide, perLayer: wide) { _ = try? t.thresholds(p) }
            if let p = try? t.uniform(byteSparsity: goal, modelWide: wide) { _ = try? t.thresholds(p) }
        }
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
    let tok = fuzzTokenizer!  // loaded or the process stopped with the reason
    let text = String(decoding: bytes, as: UTF8.self)  // arbitrary bytes: invalid sequences become U+FFFD
    for specials in [false, true] {
        let ids = tok.encode(text, specials: specials)
        // Bytes, not a String: dropping an unencodable byte can leave invalid UTF-8 that String would repair.
        let back = (tok.bos == nil ? ids : Array(ids.dropFirst())).flatMap { tok.bytes(of: $0) }
        if back != text.utf8.filter(tok.encodable) {
            fatalError("decode(encode(x)) != x (specials \(specials)): \(Array(text.utf8)) → \(ids) → \(back)")
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
