// libFuzzer entry for the code that reads untrusted bytes: GGUF reader + model loader + one forward step,
// tensor-table layouts, thresholds files, tokenizer, the ranks' settings agreement. Built by launch/fuzz together
// with Sources/ActSparse (and the agreement's two files) as one module (so it sees internal API) with
// `-sanitize=fuzzer,address`; never part of the SwiftPM package.
// The target is chosen by ACTSPARSE_FUZZ=gguf|layout|thresholds|tokenizer|agreement (tokenizer also needs
// ACTSPARSE_FUZZ_MODEL).
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Files whose weights would take more than this are skipped after the header checks (ASan's RSS limit).
let fuzzWeightLimit = 16 << 20

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

/// A tensor table built from the input: up to 8 tensors, each with fuzzed dims, type and offset, over a data
/// section of fuzzed length. GGUFFile must refuse it or accept a layout that holds: tensors in file order, each
/// exactly where the previous one's padded bytes end, inside the file. Accepted tensors are then read (hashes,
/// float rows) under ASan.
func fuzzLayout(_ bytes: UnsafeRawBufferPointer) {
    var input = Array(bytes)[...]
    func take(_ n: Int) -> UInt64 {
        var v: UInt64 = 0
        for k in 0..<n { v |= UInt64(input.popFirst() ?? 0) << (8 * UInt64(k)) }
        return v
    }
    let types: [UInt32] = [0, 1, 2, 3, 8, 12, 14, 30, 99]  // f32, f16, q4_0, q4_1, q8_0, q4_K, q6_K, bf16, unknown
    var out: [UInt8] = Array("GGUF".utf8)
    func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
    func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
    let n = Int(take(1) % 9)
    let alignment: UInt32 = [32, 64, 16, 1][Int(take(1) % 4)]
    u32(3); u64(UInt64(n)); u64(1)
    u64(17); out += Array("general.alignment".utf8); u32(4); u32(alignment)
    for t in 0..<n {
        let name = "t\(t)"
        u64(UInt64(name.utf8.count)); out += Array(name.utf8)
        let nd = 1 + Int(take(1) % 2)
        u32(UInt32(nd))
        for _ in 0..<nd { u64(1 + take(2) % 1024) }
        u32(types[Int(take(1)) % types.count])
        // Mostly plausible offsets (small multiples of 32), sometimes anything.
        let raw = take(1)
        u64(raw & 0x80 != 0 ? take(8) : (raw & 0x7F) * 32)
    }
    while out.count % Int(alignment) != 0 { out.append(0) }
    let dataStart = out.count
    out += [UInt8](repeating: 0x3C, count: Int(take(2)) * 8)  // 0x3C3C: finite f16 / bf16 / scales
    let file: GGUFFile
    do { file = try out.withUnsafeBytes { try GGUFFile(bytes: $0, name: "layout.gguf") } } catch { return }
    // Accepted: the layout must hold.
    var expected = (dataStart + Int(alignment) - 1) / Int(alignment) * Int(alignment)
    for name in file.tensorNames {
        guard let t = file.tensors[name] else { fatalError("\(name) listed but missing") }
        guard t.offset == expected, t.offset + t.bytes <= file.size else {
            fatalError("accepted layout: \(name) at \(t.offset), \(t.bytes) bytes, expected offset \(expected), file \(file.size)")
        }
        expected = t.offset + (t.bytes + Int(alignment) - 1) / Int(alignment) * Int(alignment)
        if t.dims.count == 1 { _ = try? file.floats(name, count: t.dims[0]) }
    }
    _ = file.tensorHashes(threads: 2)
}

/// The ranks' settings: any wire buffer decodes to settings or nil without a trap; decoded settings survive
/// encode → decode, agree with themselves, and two of them disagree symmetrically (the same line on both ranks).
func fuzzAgreement(_ bytes: UnsafeRawBufferPointer) {
    var wire = JobSettings.magic + Array(bytes.prefix(JobSettings.wireBytes - JobSettings.magic.count))
    wire += [UInt8](repeating: 0, count: JobSettings.wireBytes - wire.count)
    _ = JobSettings.decode(Array(bytes))
    guard let a = JobSettings.decode(wire) else { fatalError("a buffer with the magic did not decode") }
    if a.difference(from: a, rank: 0, otherRank: 1) != nil { fatalError("settings disagree with themselves: \(a)") }
    let b = JobSettings.decode(a.encoded())
    if let b, b.difference(from: a, rank: 0, otherRank: 1) != nil, a.entries.count == b.entries.count {
        fatalError("encode → decode changed the settings: \(a) → \(b)")
    }
    // Two settings from the two halves of the input.
    let half = bytes.count / 2
    func settings(_ part: UnsafeRawBufferPointer.SubSequence) -> JobSettings {
        var s = JobSettings(command: "fuzz")
        for line in String(decoding: part, as: UTF8.self).split(separator: ";").prefix(16) {
            let kv = line.split(separator: "=", maxSplits: 1)
            s.add(String(kv.first ?? ""), kv.count == 2 ? String(kv[1]) : nil)
        }
        return s
    }
    let x = settings(bytes[..<half]), y = settings(bytes[half...])
    // Agreement means: the same names, and every value both know is equal (first occurrence of a name counts).
    func table(_ s: JobSettings) -> [String: String?] { Dictionary(s.entries.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a }) }
    let tx = table(x), ty = table(y)
    let agree = Set(tx.keys) == Set(ty.keys) && tx.allSatisfy { k, v in
        guard let v, let w = ty[k] ?? nil else { return true }
        return v == w
    }
    if (x.difference(from: y, rank: 0, otherRank: 1) == nil) != agree {
        fatalError("difference \(x.difference(from: y, rank: 0, otherRank: 1) ?? "nil") but agree = \(agree): \(x) vs \(y)")
    }
}

let fuzzTarget = ProcessInfo.processInfo.environment["ACTSPARSE_FUZZ"] ?? "gguf"

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    switch fuzzTarget {
    case "thresholds": fuzzThresholds(bytes)
    case "tokenizer": fuzzTokenizerInput(bytes)
    case "layout": fuzzLayout(bytes)
    case "agreement": fuzzAgreement(bytes)
    default: fuzzGGUF(bytes)
    }
    return 0
}
