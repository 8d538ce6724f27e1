/// GPT-2 style byte-level BPE, read from a GGUF vocabulary (tokenizer.ggml.tokens / merges / token_type).
/// Pre-tokenization follows llama.cpp's "smollm"/"gpt2" rules: digits split one by one (smollm), then
/// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ .
public final class Tokenizer: @unchecked Sendable {
    public let tokens: [String]
    let ids: [String: Int32]
    /// "left right" → merge rank (lower merges first)
    let ranks: [String: Int]
    /// Control tokens (<|im_start|> …), matched verbatim in text before BPE.
    public let specials: [(String, Int32)]
    public let bos: Int32?
    public let eos: Int32
    let splitDigits: Bool
    /// GPT-2's byte ↔ printable-character map.
    let byteToChar: [Character]
    let charToByte: [Character: UInt8]
    /// BPE results of recent pre-tokens, keyed by their exact UTF-8 bytes (String keys conflate canonically
    /// equivalent text: the fuzzer found U+037E come out as ";"), emptied at `cacheLimit` entries (a long-running
    /// process sees an unbounded number of distinct pieces).
    var cache: [[UInt8]: [Int32]] = [:]
    static let cacheLimit = 1 << 14

    public init(gguf: GGUFFile) throws {
        let path = gguf.path
        let model = try gguf.string("tokenizer.ggml.model")
        guard model == "gpt2" else {
            throw ActSparseError.file(path: path, problem: "tokenizer.ggml.model: expected gpt2 (byte-level BPE), found \(model)")
        }
        let md = gguf.metadata
        guard let tokValues = md["tokenizer.ggml.tokens"]?.array, !tokValues.isEmpty,
              let mergeValues = md["tokenizer.ggml.merges"]?.array
        else { throw ActSparseError.file(path: path, problem: "missing tokenizer.ggml.tokens or merges") }
        let toks = tokValues.compactMap(\.string), merges = mergeValues.compactMap(\.string)
        guard toks.count == tokValues.count, merges.count == mergeValues.count, toks.count <= Int(Int32.max) else {
            throw ActSparseError.file(path: path, problem: "tokenizer.ggml.tokens and merges: expected arrays of strings")
        }
        tokens = toks
        var ids: [String: Int32] = [:]
        for (i, t) in toks.enumerated() where ids[t] == nil { ids[t] = Int32(i) }
        self.ids = ids
        var ranks: [String: Int] = [:]
        for (i, m) in merges.enumerated() where ranks[m] == nil { ranks[m] = i }
        self.ranks = ranks
        let typeValues = md["tokenizer.ggml.token_type"]?.array ?? []
        let types = typeValues.compactMap(\.int)
        guard types.count == typeValues.count, types.isEmpty || types.count == toks.count else {
            throw ActSparseError.file(path: path, problem: "tokenizer.ggml.token_type: expected \(toks.count) " +
                                      "integers (one per token), found \(typeValues.count) values")
        }
        specials = types.enumerated().filter { $0.element == 3 }.map { (toks[$0.offset], Int32($0.offset)) }
            .filter { !$0.0.isEmpty }
            .sorted { $0.0.count > $1.0.count }  // longest first
        /// A token id from the metadata: within the vocabulary.
        func tokenID(_ key: String) throws -> Int32? {
            guard let v = md[key] else { return nil }
            guard let id = v.int, id >= 0, id < toks.count else {
                throw ActSparseError.file(path: path, problem: "\(key): expected a token id in 0..<\(toks.count), found \(v)")
            }
            return Int32(id)
        }
        let addBos = md["tokenizer.ggml.add_bos_token"]?.bool ?? false
        bos = addBos ? try tokenID("tokenizer.ggml.bos_token_id") : nil
        eos = try tokenID("tokenizer.ggml.eos_token_id") ?? 0
        // The pre-tokenizers this implements (llama.cpp's names): GPT-2's regex, alone or after splitting digits
        // one by one. Any other (Llama-3's llama-bpe, Qwen2's qwen2, …) is refused by name: encoding it with the
        // wrong rules would silently give other token ids than the model was trained on.
        let pre = md["tokenizer.ggml.pre"]?.string
        let digitsSplit: Set = ["smollm", "starcoder", "refact", "command-r", "codeshell", "exaone"]
        guard let pre, pre == "gpt2" || digitsSplit.contains(pre) else {
            throw ActSparseError.file(path: path, problem: "tokenizer.ggml.pre: expected one of gpt2, " +
                "\(digitsSplit.sorted().joined(separator: ", ")), found \(pre ?? "none") (this pre-tokenizer is not " +
                "supported yet)")
        }
        splitDigits = digitsSplit.contains(pre)
        var b2c = [Character](repeating: " ", count: 256)
        var c2b: [Character: UInt8] = [:]
        var n = 0
        for b in 0..<256 {
            let printable = (33...126).contains(b) || (161...172).contains(b) || (174...255).contains(b)
            let c = Character(Unicode.Scalar(printable ? b : 256 + n)!)
            if !printable { n += 1 }
            b2c[b] = c
            c2b[c] = UInt8(b)
        }
        byteToChar = b2c
        charToByte = c2b
    }

    public var vocabularySize: Int { tokens.count }

    // MARK: - Encoding

    /// Token ids of `text`, with BOS first when the model wants one. Control-token strings in it (`<|im_start|>`)
    /// become control tokens only when `specials` is true (the chat template's own text), never in user text.
    public func encode(_ text: String, specials parse: Bool = false) -> [Int32] {
        (bos.map { [$0] } ?? []) + encodeText(text, specials: parse)
    }

    /// `encode` without BOS: for pieces of a longer prompt.
    public func encodeText(_ text: String, specials parse: Bool) -> [Int32] {
        var out: [Int32] = []
        var rest = Substring(text)
        if !parse {
            for piece in pretokenize(text) { out += bpe(piece) }
            return out
        }
        while !rest.isEmpty {
            // The earliest special token, if any.
            var best: (Range<Substring.Index>, Int32)?
            for (s, id) in specials {
                if let r = rest.firstRange(of: s), r.lowerBound < (best?.0.lowerBound ?? rest.endIndex) { best = (r, id) }
            }
            let plain = best.map { rest[..<$0.0.lowerBound] } ?? rest
            for piece in pretokenize(String(plain)) { out += bpe(piece) }
            guard let (r, id) = best else { break }
            out.append(id)
            rest = rest[r.upperBound...]
        }
        return out
    }

    /// Splits text into pre-tokens (see the type's comment).
    func pretokenize(_ text: String) -> [String] {
        let s = Array(text.unicodeScalars)
        var pieces: [String] = []
        func isL(_ c: Unicode.Scalar) -> Bool {
            switch c.properties.generalCategory {
            case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
            default: return false
            }
        }
        func isN(_ c: Unicode.Scalar) -> Bool {
            switch c.properties.generalCategory {
            case .decimalNumber, .letterNumber, .otherNumber: return true
            default: return false
            }
        }
        func isS(_ c: Unicode.Scalar) -> Bool { c.properties.isWhitespace }
        var i = 0
        while i < s.count {
            let start = i
            let c = s[i]
            if splitDigits && isN(c) {
                i += 1
            } else if c == "'", i + 1 < s.count, let len = contraction(s, i + 1) {
                i += 1 + len
            } else {
                let sp = c == " " && i + 1 < s.count ? 1 : 0
                let c1 = s[i + sp]
                if isL(c1) {
                    i += sp
                    while i < s.count && isL(s[i]) { i += 1 }
                } else if isN(c1) && !splitDigits {
                    i += sp
                    while i < s.count && isN(s[i]) { i += 1 }
                } else if !isS(c1) && !isL(c1) && !isN(c1) {
                    i += sp
                    while i < s.count && !isS(s[i]) && !isL(s[i]) && !isN(s[i]) { i += 1 }
                } else if isS(c) {
                    var j = i
                    while j < s.count && isS(s[j]) { j += 1 }
                    // \s+(?!\S): leave the last space to prefix the next word; else \s+.
                    i = (j < s.count && j - i > 1) ? j - 1 : j
                } else {
                    i += 1
                }
            }
            if i == start { i += 1 }
            pieces.append(String(String.UnicodeScalarView(s[start..<i])))
        }
        return pieces
    }

    func contraction(_ s: [Unicode.Scalar], _ i: Int) -> Int? {
        for suffix in ["re", "ve", "ll", "s", "t", "m", "d"] {
            let u = Array(suffix.unicodeScalars)
            if i + u.count <= s.count && Array(s[i..<(i + u.count)]) == u { return u.count }
        }
        return nil
    }

    /// Whether the vocabulary has a token for this single byte. Bytes without one are dropped by `encode`, as
    /// llama.cpp and Hugging Face's BPE (without byte fallback) drop them: SmolLM2 has no token for some control
    /// bytes. Every other byte round-trips: decode(encode(x)) == x.
    public func encodable(_ byte: UInt8) -> Bool { ids[String(byteToChar[Int(byte)])] != nil }

    /// Byte-level BPE of one pre-token.
    func bpe(_ piece: String) -> [Int32] {
        let key = Array(piece.utf8)
        if let hit = cache[key] { return hit }
        var symbols = piece.utf8.map { String(byteToChar[Int($0)]) }
        while symbols.count > 1 {
            var bestRank = Int.max, at = -1
            for k in 0..<(symbols.count - 1) {
                if let r = ranks[symbols[k] + " " + symbols[k + 1]], r < bestRank { bestRank = r; at = k }
            }
            guard at >= 0 else { break }
            symbols[at] += symbols[at + 1]
            symbols.remove(at: at + 1)
        }
        var out: [Int32] = []
        for sym in symbols {
            if let id = ids[sym] {
                out.append(id)
            } else {  // unknown merge result: fall back to its single bytes
                for ch in sym { if let id = ids[String(ch)] { out.append(id) } }
            }
        }
        if cache.count >= Tokenizer.cacheLimit { cache.removeAll(keepingCapacity: true) }
        cache[key] = out
        return out
    }

    // MARK: - Decoding

    /// The bytes a token stands for (control tokens: their text).
    public func bytes(of id: Int32) -> [UInt8] {
        guard id >= 0 && Int(id) < tokens.count else { return [] }
        let t = tokens[Int(id)]
        if specials.contains(where: { $0.1 == id }) { return Array(t.utf8) }
        return t.compactMap { charToByte[$0] }
    }

    public func decode(_ ids: [Int32]) -> String {
        String(decoding: ids.flatMap { bytes(of: $0) }, as: UTF8.self)
    }

    public func isControl(_ id: Int32) -> Bool { specials.contains { $0.1 == id } }
}

/// Streams decoded text: holds back bytes of an incomplete UTF-8 sequence until it completes.
public struct TextStream {
    var pending: [UInt8] = []
    public init() {}

    public mutating func push(_ bytes: [UInt8]) -> String {
        pending += bytes
        // Find the longest prefix that is complete UTF-8.
        var end = pending.count
        var k = pending.count - 1
        var back = 0
        while k >= 0 && back < 4 && pending[k] & 0xC0 == 0x80 { k -= 1; back += 1 }
        if k >= 0 {
            let lead = pending[k]
            let need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1
            if pending.count - k < need { end = k }
        }
        let out = String(decoding: pending[..<end], as: UTF8.self)
        pending.removeFirst(end)
        return out
    }
}
