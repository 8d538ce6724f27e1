import CActSparse

/// XXH64 of bytes (the reference algorithm, in C): ranks compare the weights and files they loaded with it.
public enum ContentHash {
    public static func xxh64(_ bytes: UnsafeRawBufferPointer, seed: UInt64 = 0) -> UInt64 {
        actsparse_xxh64(bytes.baseAddress, bytes.count, seed)
    }

    public static func xxh64(_ bytes: [UInt8], seed: UInt64 = 0) -> UInt64 {
        bytes.withUnsafeBytes { xxh64($0, seed: seed) }
    }
}
