import Foundation

/// A GGUF vocabulary's tokenizer, as llama.cpp runs it:
/// - `tokenizer.ggml.model = gpt2`: byte-level BPE (tokens / merges), after a pre-tokenizer named by
///   `tokenizer.ggml.pre`: GPT-2's regex ('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+),
///   alone or after splitting digits one by one (smollm …), or Llama-3's / Qwen2's (see `Pre`).
/// - `tokenizer.ggml.model = llama`: SentencePiece-style (scores, byte fallback, ▁ for spaces; Tokenizer+SPM).
/// Text is first split on user-defined tokens (always) and control tokens (only in template text).
public final class Tokenizer: @unchecked Sendable {
    /// The pre-tokenizers implemented (llama.cpp's names in `init`).
    enum Pre { case gpt2, gpt2Digits, llama3, qwen2, none }
    public enum Model { case bpe, spm }
    public let model: Model
    let pre: Pre
    /// SPM: per-token scores (higher merges first); id of the token for each byte (<0xXX>), −1 if none
    let scores: [Float]
    /// SPM: token ids by their exact UTF-8 bytes (String keys would conflate canonically equivalent text)
    let spmIDs: [[UInt8]: Int32]
    let byteTokens: [Int32]
    /// SPM: prefix a space to the text (and after every control token)
    let addSpacePrefix: Bool
    /// User-defined tokens (type 4), matched verbatim in any text, longest first.
    let userDefined: [(String, Int32)]
    public let tokens: [String]
    let ids: [String: Int32]
    /// "left right" → merge rank (lower merges first)
    let ranks: [String: Int]
    /// The most bytes any merge produces: longer pairs are never looked up (no merge makes them).
    let maxMergeBytes: Int
    /// Merges whose two sides are tokens, by (left id, right id): rank and the merged token (−1 if none). Symbols
    /// that are tokens merge through this integer map; only merge results outside the vocabulary need `ranks`.
    let pairRanks: [UInt64: (rank: Int32, merged: Int32)]
    /// The token of each byte's GPT-2 character (−1 if none).
    let byteIDs: [Int32]
    /// Control tokens (<|im_start|> …), matched verbatim in text before BPE.
    public let specials: [(String, Int32)]
    public let bos: Int32?
    public let eos: Int32
    /// End of turn (Llama-3's <|eot_id|>), when the vocabulary names one.
    public let eot: Int32?
    /// GPT-2's byte ↔ printable-character map.
    let byteToChar: [Character]
    let charToByte: [Character: UInt8]
    /// BPE results of recent pre-tokens, keyed by their exact UTF-8 bytes (String keys conflate canonically
    /// equivalent text: the fuzzer found U+037E come out as ";"), emptied at `cacheLimit` entries (a long-running
    /// process sees an unbounded number of distinct pieces).
    var cache: [[UInt8]: [Int32]] = [:]
    static let cacheLimit = 1 << 14
    /// Pieces longer than this are not cached (so the cache holds at most 16 Ki × 64 bytes of keys).
    static let cachedPieceBytes = 64

    public init(gguf: GGUFFile) throws {
        let path = gguf.path
        let modelName = try gguf.string("tokenizer.ggml.model")
        switch modelName {
        case "gpt2": model = .bpe
        case "llama": model = .spm
        default:
            throw ActSparseError.file(path: path, problem: "tokenizer.ggml.model: expected gpt2 (byte-level BPE) or " +
                                      "llama (SentencePiece), found \(modelName) (not supported)")
        }
        let md = gguf.metadata
        guard let tokValues = md["tokenizer.ggml.tokens"]?.array, !tokValues.isEmpty else {
            throw ActSparseError.file(path: path, problem: "missing tokenizer.ggml.tokens")
        }
        let mergeValues = md["tokenizer.ggml.merges"]?.array ?? []
        if model == .bpe && md["tokenizer.ggml.merges"]?.array == nil {
            throw ActSparseError.file(path: path, problem: "missing tokenizer.ggml.merges (a gpt2 vocabulary needs them)")
        }
        let toks = tokValues.compactMap(\.string), merges = mergeValues.compactMap(\.string)
        guard toks.count == tokValues.count, merges.count == mergeValues.count, toks.count <= Int(Int32.max) else {
            throw ActSparseError.file(path: path, problem: "tokenizer.ggml.tokens and merges: expected arrays of strings")
        }
        tokens = toks
        var ids: [String: Int32] = [:]
        for (i, t) in toks.enumerated() where ids[t] == nil { ids[t] = Int32(i) }
        self.ids = ids
        var ranks: [String: Int] = [:]
        for (i, m) in merges.enumerated() {
            // "left right": one space between two non-empty sides (spaces inside tokens are Ġ in byte-level BPE).
            let sides = m.split(separator: " ", omittingEmptySubsequences: false)
            guard sides.count == 2, !sides[0].isEmpty, !sides[1].isEmpty else {
                throw ActSparseError.file(path: path, problem: "tokenizer.ggml.merges[\(i)]: expected \"left right\" "
                    + "(two non-empty tokens and one space), found \(m.debugDescription)")
            }
            if ranks[m] == nil { ranks[m] = i }
        }
        self.ranks = ranks
        // Merge strings are in GPT-2's byte-character space: one scalar per byte, plus the separating space.
        maxMergeBytes = merges.reduce(0) { max($0, $1.unicodeScalars.count - 1) }
        var pairs: [UInt64: (rank: Int32, merged: Int32)] = [:]
        for (i, m) in merges.enumerated() {
            let parts = m.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, let l = ids[String(parts[0])], let r = ids[String(parts[1])] else { continue }
            let key = UInt64(UInt32(bitPattern: l)) << 32 | UInt64(UInt32(bitPattern: r))
            if pairs[key] == nil { pairs[key] = (Int32(i), ids[String(parts[0] + parts[1])] ?? -1) }
        }
        pairRanks = pairs
        let typeValues = md["tokenizer.ggml.token_type"]?.array ?? []
        let types = typeValues.compactMap(\.int)
        guard types.count == typeValues.count, types.isEmpty || types.count == toks.count else {
            throw ActSparseError.file(path: path, problem: "tokenizer.ggml.token_type: expected \(toks.count) " +
                                      "integers (one per token), found \(typeValues.count) values")
        }
        func ofType(_ k: Int) -> [(String, Int32)] {
            types.enumerated().filter { $0.element == k }.map { (toks[$0.offset], Int32($0.offset)) }
                .filter { !$0.0.isEmpty }
                .sorted { $0.0.utf8.count != $1.0.utf8.count ? $0.0.utf8.count > $1.0.utf8.count : $0.1 < $1.1 }
        }
        specials = ofType(3)  // longest first, as llama.cpp partitions
        userDefined = ofType(4)
        /// A token id from the metadata: within the vocabulary.
        func tokenID(_ key: String) throws -> Int32? {
            guard let v = md[key] else { return nil }
            guard let id = v.int, id >= 0, id < toks.count else {
                throw ActSparseError.file(path: path, problem: "\(key): expected a token id in 0..<\(toks.count), found \(v)")
            }
            return Int32(id)
        }
        let addBos = md["tokenizer.ggml.add_bos_token"]?.bool ?? (model == .spm)
        bos = addBos ? try tokenID("tokenizer.ggml.bos_token_id") : nil
        eos = try tokenID("tokenizer.ggml.eos_token_id") ?? 0
        eot = try tokenID("tokenizer.ggml.eot_token_id")
        // The pre-tokenizers this implements (llama.cpp's names). Any other is refused by name: encoding with the
        // wrong rules would silently give other token ids than the model was trained on.
        let pre = md["tokenizer.ggml.pre"]?.string
        let digitsSplit: Set = ["smollm", "starcoder", "refact", "command-r", "codeshell", "exaone"]
        let llama3: Set = ["llama3", "llama-v3", "llama-bpe", "falcon3", "pixtral"]
        let qwen2: Set = ["qwen2", "deepseek-r1-qwen"]
        switch (model, pre) {
        case (.spm, nil), (.spm, "default"): self.pre = .none
        case (.bpe, "gpt2"), (.bpe, "gpt-2"): self.pre = .gpt2
        case (.bpe, let p?) where digitsSplit.contains(p): self.pre = .gpt2Digits
        case (.bpe, let p?) where llama3.contains(p): self.pre = .llama3
        case (.bpe, let p?) where qwen2.contains(p): self.pre = .qwen2
        default:
            let known = model == .spm ? ["default"] : ["gpt-2"] + (digitsSplit.union(llama3).union(qwen2)).sorted()
            throw ActSparseError.file(path: path, problem: "tokenizer.ggml.pre: expected one of " +
                "\(known.joined(separator: ", ")) for a \(modelName) vocabulary, found \(pre ?? "none") (this " +
                "pre-tokenizer is not supported yet)")
        }
        if model == .spm {
            let sv = md["tokenizer.ggml.scores"]?.array ?? []
            let sc = sv.compactMap { $0.float.map(Float.init) }
            guard sc.count == toks.count, sc.allSatisfy(\.isFinite) else {
                throw ActSparseError.file(path: path, problem: "tokenizer.ggml.scores: expected \(toks.count) finite " +
                                          "numbers (one per token), found \(sv.count) values")
            }
            scores = sc
            var byBytes: [[UInt8]: Int32] = [:]
            byBytes.reserveCapacity(toks.count)
            for (i, t) in toks.enumerated() where byBytes[Array(t.utf8)] == nil { byBytes[Array(t.utf8)] = Int32(i) }
            spmIDs = byBytes
            var bt = [Int32](repeating: -1, count: 256)
            for b in 0..<256 { bt[b] = ids[String(format: "<0x%02X>", b)] ?? -1 }
            byteTokens = bt
            addSpacePrefix = md["tokenizer.ggml.add_space_prefix"]?.bool ?? true
        } else {
            scores = []; byteTokens = []; addSpacePrefix = false; spmIDs = [:]
        }
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
        byteIDs = b2c.map { ids[String($0)] ?? -1 }
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
        var previousWasToken = true  // SPM prefixes a space to the text and after every special token
        for fragment in partition(text, specials: parse) {
            switch fragment {
            case .token(let id):
                out.append(id)
                previousWasToken = true
            case .text(let t):
                if model == .spm {
                    out += spm(addSpacePrefix && previousWasToken ? " " + t : t)
                } else {
                    for piece in pretokenize(t) { out += bpe(piece) }
                }
                previousWasToken = false
            }
        }
        return out
    }

    enum Fragment { case text(String), token(Int32) }

    /// llama.cpp's partition: for each special token, longest first, every text fragment is split at its
    /// occurrences. User-defined tokens always; control tokens only when `specials`. Matching is on UTF-8 bytes,
    /// as llama.cpp's: Swift's String search matches canonically equivalent text too (U+037E for ";").
    func partition(_ text: String, specials parse: Bool) -> [Fragment] {
        enum Piece { case bytes([UInt8]), token(Int32) }
        var pieces: [Piece] = text.isEmpty ? [] : [.bytes(Array(text.utf8))]  // no text, no fragment (no ▁ prefix)
        for (s, id) in (parse ? specials : []) + userDefined {
            let needle = Array(s.utf8)
            var next: [Piece] = []
            var changed = false
            for p in pieces {
                guard case .bytes(let b) = p, b.count >= needle.count else { next.append(p); continue }
                var start = 0, i = 0
                while i + needle.count <= b.count {
                    if b[i] == needle[0] && b[i..<(i + needle.count)].elementsEqual(needle) {
                        if i > start { next.append(.bytes(Array(b[start..<i]))) }
                        next.append(.token(id))
                        i += needle.count
                        start = i
                        changed = true
                    } else {
                        i += 1
                    }
                }
                if start < b.count { next.append(.bytes(start == 0 ? b : Array(b[start...]))) }
            }
            if changed { pieces = next }
        }
        return pieces.map {
            switch $0 {
            case .token(let id): return .token(id)
            case .bytes(let b): return .text(String(decoding: b, as: UTF8.self))
            }
        }
    }

    /// Splits text into pre-tokens (see the type's comment).
    func pretokenize(_ text: String) -> [String] { Tokenizer.pretokenize(text, pre: pre) }

    /// The pre-token pieces of `text` under llama.cpp's pre-tokenizer `name` (gpt-2, smollm, llama-bpe, qwen2, …):
    /// for tests against other implementations and for seeing how a text splits.
    public static func pretokenize(_ text: String, preTokenizer name: String) -> [String]? {
        let pre: Pre
        switch name {
        case "gpt2", "gpt-2": pre = .gpt2
        case "smollm", "starcoder", "refact", "command-r", "codeshell", "exaone": pre = .gpt2Digits
        case "llama3", "llama-v3", "llama-bpe", "falcon3", "pixtral": pre = .llama3
        case "qwen2", "deepseek-r1-qwen": pre = .qwen2
        default: return nil
        }
        return pretokenize(text, pre: pre)
    }

    static func pretokenize(_ text: String, pre: Pre) -> [String] {
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
        if pre == .llama3 || pre == .qwen2 { return pretokenizeLlama3(s, digits: pre == .llama3 ? 3 : 1, isL: isL, isN: isN) }
        let splitDigits = pre == .gpt2Digits
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

    static func contraction(_ s: [Unicode.Scalar], _ i: Int, ignoringCase: Bool = false) -> Int? {
        for suffix in ["re", "ve", "ll", "s", "t", "m", "d"] {
            let u = Array(suffix.unicodeScalars)
            guard i + u.count <= s.count else { continue }
            // ASCII case folding is all (?i:…) can change here: the suffixes are ASCII letters
            let got = s[i..<(i + u.count)].map { c in
                ignoringCase && ("A"..."Z").contains(c) ? Unicode.Scalar(c.value + 32)! : c
            }
            if got == u { return u.count }
        }
        return nil
    }

    /// Llama-3's pre-tokenizer (Qwen2's with `digits` = 1):
    /// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
    static func pretokenizeLlama3(_ s: [Unicode.Scalar], digits: Int, isL: (Unicode.Scalar) -> Bool,
                           isN: (Unicode.Scalar) -> Bool) -> [String] {
        func isS(_ c: Unicode.Scalar) -> Bool { c.properties.isWhitespace }
        func isNL(_ c: Unicode.Scalar) -> Bool { c == "\r" || c == "\n" }
        var pieces: [String] = []
        var i = 0
        while i < s.count {
            let start = i, c = s[i]
            if c == "'", let len = contraction(s, i + 1, ignoringCase: true) {
                i += 1 + len
            } else if isL(c) || (!isNL(c) && !isL(c) && !isN(c) && i + 1 < s.count && isL(s[i + 1])) {
                i += 1
                while i < s.count && isL(s[i]) { i += 1 }
            } else if isN(c) {
                while i < s.count && i - start < digits && isN(s[i]) { i += 1 }
            } else if !isS(c) || (c == " " && i + 1 < s.count && !isS(s[i + 1]) && !isL(s[i + 1]) && !isN(s[i + 1])) {
                // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
                if c == " " { i += 1 }
                while i < s.count && !isS(s[i]) && !isL(s[i]) && !isN(s[i]) { i += 1 }
                while i < s.count && isNL(s[i]) { i += 1 }
            } else {
                var j = i
                while j < s.count && isS(s[j]) { j += 1 }
                if let lastNL = (i..<j).last(where: { isNL(s[$0]) }) {
                    i = lastNL + 1                      // \s*[\r\n]+
                } else if j < s.count && j - i > 1 {
                    i = j - 1                           // \s+(?!\S): the last space prefixes the next piece
                } else {
                    i = j                               // \s+
                }
            }
            if i == start { i += 1 }
            pieces.append(String(String.UnicodeScalarView(s[start..<i])))
        }
        return pieces
    }

    /// Whether the vocabulary has a token for this single byte. Bytes without one are dropped by `encode`, as
    /// llama.cpp and Hugging Face's BPE (without byte fallback) drop them: SmolLM2 has no token for some control
    /// bytes. Every other byte round-trips: decode(encode(x)) == x.
    public func encodable(_ byte: UInt8) -> Bool {
        model == .spm ? byteTokens[Int(byte)] >= 0 : ids[String(byteToChar[Int(byte)])] != nil
    }

    /// Byte-level BPE of one pre-token: the adjacent pair with the lowest merge rank merges first (ties: leftmost),
    /// as Hugging Face's and llama.cpp's BPE. Candidate pairs wait in a heap and symbols form a linked list, so a
    /// pre-token of n bytes costs O(n log n) lookups, not O(n²).
    func bpe(_ piece: String) -> [Int32] {
        let key = Array(piece.utf8)
        if let hit = cache[key] { return hit }
        let m = bpeMerge(key)
        var out: [Int32] = []
        var i = key.isEmpty ? -1 : 0
        while i != -1 {
            if m.id[i] >= 0 {
                out.append(m.id[i])
            } else {  // a merge result outside the vocabulary (or an unknown byte): its single bytes
                for b in key[i..<(i + m.n[i])] where byteIDs[Int(b)] >= 0 { out.append(byteIDs[Int(b)]) }
            }
            i = m.next[i]
        }
        // Long pieces are rare and would make the cache's bytes grow with the text: only short ones are kept.
        guard key.count <= Tokenizer.cachedPieceBytes else { return out }
        if cache.count >= Tokenizer.cacheLimit { cache.removeAll(keepingCapacity: true) }
        cache[key] = out
        return out
    }

    /// The merged symbols of one pre-token's bytes (GPT-2 byte characters), in order.
    public func bpeSymbols(_ key: [UInt8]) -> [String] {
        let m = bpeMerge(key)
        var symbols: [String] = []
        var i = key.isEmpty ? -1 : 0
        while i != -1 {
            symbols.append(key[i..<(i + m.n[i])].map { String(byteToChar[Int($0)]) }.joined())
            i = m.next[i]
        }
        return symbols
    }

    /// The merge itself. Symbols are byte ranges [i, i + n[i]) in a linked list (n = 0 once merged into the symbol
    /// on its left), with their token id (−1 outside the vocabulary). Candidate pairs wait in a heap (lowest rank,
    /// then leftmost), checked against the list when popped.
    func bpeMerge(_ key: [UInt8]) -> (n: [Int], next: [Int], id: [Int32]) {
        let count = key.count
        guard count > 0 else { return ([], [], []) }
        var n = [Int](repeating: 1, count: count), id = key.map { byteIDs[Int($0)] }
        var prev = Array(-1..<(count - 1)), next = (1...count).map { $0 < count ? $0 : -1 }
        func text(_ i: Int) -> String { key[i..<(i + n[i])].map { String(byteToChar[Int($0)]) }.joined() }
        var heap = BigramHeap()
        func tryAdd(_ left: Int, _ right: Int) {
            guard left >= 0, right >= 0, n[left] + n[right] <= maxMergeBytes else { return }
            if id[left] >= 0 && id[right] >= 0 {
                let k = UInt64(UInt32(bitPattern: id[left])) << 32 | UInt64(UInt32(bitPattern: id[right]))
                guard let p = pairRanks[k] else { return }
                heap.push(.init(score: -Double(p.rank), left: left, right: right, size: n[left] + n[right], merged: p.merged))
            } else if let r = ranks[text(left) + " " + text(right)] {
                heap.push(.init(score: -Double(r), left: left, right: right, size: n[left] + n[right], merged: -1))
            }
        }
        for i in 1..<count { tryAdd(i - 1, i) }
        while let b = heap.pop() {
            // Skip a pair one of whose symbols has merged since.
            guard n[b.left] > 0, n[b.right] > 0, n[b.left] + n[b.right] == b.size, next[b.left] == b.right else { continue }
            n[b.left] += n[b.right]; n[b.right] = 0
            id[b.left] = b.merged >= 0 ? b.merged : ids[text(b.left)] ?? -1
            next[b.left] = next[b.right]
            if next[b.right] >= 0 { prev[next[b.right]] = b.left }
            tryAdd(prev[b.left], b.left)
            tryAdd(b.left, next[b.left])
        }
        return (n, next, id)
    }

    /// `bpeSymbols`' plain twin: rescan every adjacent pair after each merge (O(n²)); the tests compare the two.
    public func bpeSymbolsReference(_ key: [UInt8]) -> [String] {
        var symbols = key.map { String(byteToChar[Int($0)]) }
        while symbols.count > 1 {
            var bestRank = Int.max, at = -1
            for k in 0..<(symbols.count - 1) {
                if let r = ranks[symbols[k] + " " + symbols[k + 1]], r < bestRank { bestRank = r; at = k }
            }
            guard at >= 0 else { break }
            symbols[at] += symbols[at + 1]
            symbols.remove(at: at + 1)
        }
        return symbols
    }

    // MARK: - Decoding

    /// The bytes a token stands for (control tokens: their text).
    public func bytes(of id: Int32) -> [UInt8] {
        guard id >= 0 && Int(id) < tokens.count else { return [] }
        let t = tokens[Int(id)]
        if specials.contains(where: { $0.1 == id }) || userDefined.contains(where: { $0.1 == id }) { return Array(t.utf8) }
        if model == .spm {
            if let b = byteTokens.firstIndex(of: id) { return [UInt8(b)] }
            return Array(t.replacingOccurrences(of: "\u{2581}", with: " ").utf8)
        }
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
