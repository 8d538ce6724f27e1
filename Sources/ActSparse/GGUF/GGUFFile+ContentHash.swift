

extension GGUFFile {
    /// Bytes hashed per work item: big tensors spread over every worker.
    static let hashChunk = 16 << 20

    /// XXH64 of each tensor's data, in file order (`tensorNames`): ranks that opened different copies of a model
    /// compare these to be sure they hold the same weights. A tensor of several chunks hashes its chunks' hashes.
    /// Reads the whole tensor data once, on `threads` workers (~10 GB/s each from the page cache).
    public func tensorHashes(threads: Int) -> [UInt64] {
        let infos = tensorNames.compactMap { tensors[$0] }
        var items: [(tensor: Int, start: Int, count: Int)] = []
        var firstItem: [Int] = []
        for (k, t) in infos.enumerated() {
            firstItem.append(items.count)
            var at = 0
            repeat {
                let n = min(GGUFFile.hashChunk, t.bytes - at)
                items.append((k, t.offset + at, n))
                at += n
            } while at < t.bytes
        }
        let sums = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: max(1, items.count))
        defer { sums.deallocate() }
        let base = self.base, work = items, workers = max(1, min(threads, items.count))
        Parallel.concurrentPerform(workers) { w in
            var i = w
            while i < work.count {
                sums[i] = ContentHash.xxh64(UnsafeRawBufferPointer(start: base + work[i].start, count: work[i].count))
                i += workers
            }
        }
        return infos.indices.map { k in
            let from = firstItem[k], to = k + 1 < firstItem.count ? firstItem[k + 1] : items.count
            return to - from == 1 ? sums[from] : ContentHash.xxh64(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: sums[from..<to])))
        }
    }
}
