// Writing ggml blocks: a plain quantizer (tests' tiny files) and random blocks with bounded scales (`synth`).
// Each type's layout lives in its row (`GGUF/Types/`), the inverse of its `unpack`.

extension GGMLType {
    /// `values` (a multiple of the block size) as blocks of this type: round-to-nearest on a min/max grid.
    /// Not llama.cpp's error-minimising search — a correct file with the type's exact layout.
    public func encode(_ values: [Float]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(values.count / blockSize * blockBytes)
        let row = self.row
        for b in stride(from: 0, to: values.count - blockSize + 1, by: blockSize) {
            row.encode(values[b..<(b + blockSize)], into: &out)
        }
        return out
    }

    /// `count` blocks of random codes and sub-scales whose weights have a standard deviation of about `std` and
    /// a mean of about 0 (full-size synthetic models: activations stay finite through dozens of layers).
    public func randomBlocks(count: Int, std: Float, rng: inout SplitMix, into out: UnsafeMutableRawPointer) {
        // Random bytes everywhere, then each block's scale fields set: codes uniform on the grid, so
        // w = d·(q − mid) has std d·(levels / √12).
        let bb = blockBytes, total = count * bb
        var k = 0
        while k + 8 <= total { out.storeBytes(of: rng.next(), toByteOffset: k, as: UInt64.self); k += 8 }
        while k < total { out.storeBytes(of: UInt8(truncatingIfNeeded: rng.next()), toByteOffset: k, as: UInt8.self); k += 1 }
        let row = self.row
        for b in 0..<count { row.randomize(out + b * bb, std: std, rng: &rng) }
    }
}
