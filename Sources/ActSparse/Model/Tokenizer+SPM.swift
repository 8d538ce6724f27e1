import Foundation

// SentencePiece-style tokenization of a GGUF `llama` vocabulary, as llama.cpp's llm_tokenizer_spm: spaces become
// ▁, the text splits into UTF-8 characters, and the adjacent pair whose concatenation is a token with the
// highest score merges first (ties: leftmost), until no pair is a token. A symbol that is no token falls back
// to its bytes' <0xXX> tokens.

extension Tokenizer {
    func spm(_ raw: String) -> [Int32] {
        let text = Array(raw.replacingOccurrences(of: " ", with: "\u{2581}").utf8)
        guard !text.isEmpty else { return [] }
        // Symbols: [start, n] byte ranges in a doubly linked list.
        var start: [Int] = [], n: [Int] = [], prev: [Int] = [], next: [Int] = []
        var off = 0
        while off < text.count {
            let lead = text[off]
            let len = min(text.count - off, lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1)
            start.append(off); n.append(len); prev.append(start.count - 2)
            off += len
            next.append(off == text.count ? -1 : start.count)
        }
        func token(_ s: Int, _ len: Int) -> Int32? { spmIDs[Array(text[s..<(s + len)])] }
        var heap = BigramHeap()
        func tryAdd(_ left: Int, _ right: Int) {
            guard left >= 0, right >= 0, let id = token(start[left], n[left] + n[right]) else { return }
            heap.push(.init(score: Double(scores[Int(id)]), left: left, right: right, size: n[left] + n[right]))
        }
        for i in 1..<start.count { tryAdd(i - 1, i) }
        while let b = heap.pop() {
            // Skip a pair one of whose symbols has merged since.
            guard n[b.left] > 0, n[b.right] > 0, n[b.left] + n[b.right] == b.size else { continue }
            n[b.left] += n[b.right]; n[b.right] = 0
            next[b.left] = next[b.right]
            if next[b.right] >= 0 { prev[next[b.right]] = b.left }
            tryAdd(prev[b.left], b.left)
            tryAdd(b.left, next[b.left])
        }
        var out: [Int32] = []
        var i = 0
        while i != -1 {
            if let id = token(start[i], n[i]) {
                out.append(id)
            } else {
                for k in start[i]..<(start[i] + n[i]) where byteTokens[Int(text[k])] >= 0 { out.append(byteTokens[Int(text[k])]) }
            }
            i = next[i]
        }
        return out
    }
}

/// A max-heap of candidate merges: highest score first, then leftmost (llama.cpp's comparator). BPE pushes the
/// negated merge rank as the score.
struct BigramHeap {
    struct Bigram {
        let score: Double, left: Int, right: Int, size: Int
        /// BPE: the merged token when known (−1: look it up).
        var merged: Int32 = -1
    }
    var items: [Bigram] = []

    static func before(_ a: Bigram, _ b: Bigram) -> Bool { a.score > b.score || (a.score == b.score && a.left < b.left) }

    mutating func push(_ b: Bigram) {
        items.append(b)
        var k = items.count - 1
        while k > 0 {
            let p = (k - 1) / 2
            guard BigramHeap.before(items[k], items[p]) else { break }
            items.swapAt(k, p); k = p
        }
    }

    mutating func pop() -> Bigram? {
        guard let top = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var k = 0
            while true {
                let l = 2 * k + 1, r = l + 1
                var m = k
                if l < items.count && BigramHeap.before(items[l], items[m]) { m = l }
                if r < items.count && BigramHeap.before(items[r], items[m]) { m = r }
                if m == k { break }
                items.swapAt(k, m); k = m
            }
        }
        return top
    }
}

