// The float types: one value per "block", the codes are the weights.

enum F32Row: GGMLTypeRow {
    static let traits = GGMLType.Traits(name: "F32", blockSize: 1, blockBytes: 4, engine: .f32, repack: .values)
    static func unpack(_ b: UnsafeRawPointer, codes: UnsafeMutablePointer<UInt8>, scale: UnsafeMutablePointer<UInt16>,
                       minimum: UnsafeMutablePointer<UInt16>) -> (Float16, Float16) { (0, 0) }
    static func checkFinite(_ b: UnsafeRawPointer) -> Bool { true }
    static func encode(_ v: ArraySlice<Float>, into out: inout [UInt8]) { for x in v { out += BlockBytes.le32(x.bitPattern) } }
    static func randomize(_ p: UnsafeMutableRawPointer, std: Float, rng: inout SplitMix) {
        p.storeBytes(of: rng.gaussian() * std, as: Float.self)
    }
}

enum F16Row: GGMLTypeRow {
    static let traits = GGMLType.Traits(name: "F16", blockSize: 1, blockBytes: 2, engine: .f16, repack: .values)
    static func unpack(_ b: UnsafeRawPointer, codes: UnsafeMutablePointer<UInt8>, scale: UnsafeMutablePointer<UInt16>,
                       minimum: UnsafeMutablePointer<UInt16>) -> (Float16, Float16) { (0, 0) }
    static func checkFinite(_ b: UnsafeRawPointer) -> Bool { true }
    static func encode(_ v: ArraySlice<Float>, into out: inout [UInt8]) { for x in v { out += BlockBytes.f16(x) } }
    static func randomize(_ p: UnsafeMutableRawPointer, std: Float, rng: inout SplitMix) {
        BlockBytes.put16(p, 0, rng.gaussian() * std)
    }
}

enum BF16Row: GGMLTypeRow {
    static let traits = GGMLType.Traits(name: "BF16", blockSize: 1, blockBytes: 2, engine: .bf16, repack: .values)
    static func unpack(_ b: UnsafeRawPointer, codes: UnsafeMutablePointer<UInt8>, scale: UnsafeMutablePointer<UInt16>,
                       minimum: UnsafeMutablePointer<UInt16>) -> (Float16, Float16) { (0, 0) }
    static func checkFinite(_ b: UnsafeRawPointer) -> Bool { true }
    static func encode(_ v: ArraySlice<Float>, into out: inout [UInt8]) {
        for x in v { out += withUnsafeBytes(of: bf16Bits(x).littleEndian, Array.init) }
    }
    static func randomize(_ p: UnsafeMutableRawPointer, std: Float, rng: inout SplitMix) {
        p.storeBytes(of: bf16Bits(rng.gaussian() * std), as: UInt16.self)
    }
}
