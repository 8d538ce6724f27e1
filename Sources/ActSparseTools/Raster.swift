import ActSparse
import Foundation

/// An RGB canvas with lines, dots and 5×7 bitmap text, written as a PNG (its own small deflate, no dependency):
/// enough for the report plots the CLI writes without Python.
public struct Raster {
    public let width: Int, height: Int
    /// [height][width] RGB, row-major
    var pixels: [UInt8]

    public typealias Color = (UInt8, UInt8, UInt8)

    public init(width: Int, height: Int, background: Color = (255, 255, 255)) {
        self.width = max(1, width)
        self.height = max(1, height)
        pixels = [UInt8](repeating: 0, count: self.width * self.height * 3)
        for i in 0..<(self.width * self.height) {
            pixels[3 * i] = background.0; pixels[3 * i + 1] = background.1; pixels[3 * i + 2] = background.2
        }
    }

    public mutating func set(_ x: Int, _ y: Int, _ c: Color) {
        guard x >= 0, y >= 0, x < width, y < height else { return }
        let i = 3 * (y * width + x)
        pixels[i] = c.0; pixels[i + 1] = c.1; pixels[i + 2] = c.2
    }

    public mutating func fill(x: Int, y: Int, w: Int, h: Int, _ c: Color) {
        for yy in y..<(y + max(0, h)) { for xx in x..<(x + max(0, w)) { set(xx, yy, c) } }
    }

    /// A plot coordinate as a pixel index without trapping: NaN and far-off values land well outside any image
    /// (drawing there does nothing).
    public static func pixel(_ v: Double) -> Int {
        guard v.isFinite else { return -1_000_000 }
        return Int(min(max(v, -1e6), 1e6).rounded())
    }

    /// A line of the given thickness (Bresenham, square pen); non-finite ends draw nothing.
    public mutating func line(_ x0: Double, _ y0: Double, _ x1: Double, _ y1: Double, _ c: Color, thickness: Int = 1) {
        guard [x0, y0, x1, y1].allSatisfy({ $0.isFinite && abs($0) < 1e6 }) else { return }
        var x = Int(x0.rounded()), y = Int(y0.rounded())
        let xe = Int(x1.rounded()), ye = Int(y1.rounded())
        let dx = abs(xe - x), dy = -abs(ye - y), sx = x < xe ? 1 : -1, sy = y < ye ? 1 : -1
        var err = dx + dy
        let r = thickness / 2
        while true {
            fill(x: x - r, y: y - r, w: thickness, h: thickness, c)
            if x == xe && y == ye { break }
            let e2 = 2 * err
            if e2 >= dy { err += dy; x += sx }
            if e2 <= dx { err += dx; y += sy }
        }
    }

    public mutating func dot(_ x: Double, _ y: Double, _ c: Color, radius: Int = 3) {
        guard x.isFinite, y.isFinite, abs(x) < 1e6, abs(y) < 1e6 else { return }
        let cx = Int(x.rounded()), cy = Int(y.rounded())
        for yy in -radius...radius { for xx in -radius...radius where xx * xx + yy * yy <= radius * radius { set(cx + xx, cy + yy, c) } }
    }

    /// Text in the built-in 5×7 font (upper-cased; unknown characters as blanks), `scale` pixels per font pixel.
    public mutating func text(_ s: String, x: Int, y: Int, _ c: Color = (0, 0, 0), scale: Int = 2) {
        var cx = x
        for ch in s.uppercased() {
            if let rows = Raster.font[ch] {
                for (r, row) in rows.enumerated() {
                    for (k, bit) in row.enumerated() where bit == "#" {
                        fill(x: cx + k * scale, y: y + r * scale, w: scale, h: scale, c)
                    }
                }
            }
            cx += 6 * scale
        }
    }

    public static func textWidth(_ s: String, scale: Int = 2) -> Int { s.count * 6 * scale }

    // MARK: PNG

    /// The image as PNG bytes: 8-bit RGB, each row filtered "Up" (the difference to the row above: a plot's
    /// flat areas become runs of zeros), zlib with one fixed-Huffman deflate block whose only matches are runs
    /// (distance 1). A 1200 × 560 plot is tens of kilobytes instead of 2 MB stored.
    public func png() -> Data {
        let stride = 3 * width
        var raw = [UInt8]()
        raw.reserveCapacity(height * (1 + stride))
        for y in 0..<height {
            raw.append(y == 0 ? 0 : 2)
            for i in 0..<stride {
                let v = pixels[y * stride + i]
                raw.append(y == 0 ? v : v &- pixels[(y - 1) * stride + i])
            }
        }
        var z = Data([0x78, 0x01])
        z.append(contentsOf: Raster.deflateRuns(raw))
        var a: UInt32 = 1, b: UInt32 = 0
        for byte in raw { a = (a + UInt32(byte)) % 65521; b = (b + a) % 65521 }
        z.append(contentsOf: be32((b << 16) | a))
        var out = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        var ihdr = Data(be32(UInt32(width)) + be32(UInt32(height)))
        ihdr.append(contentsOf: [8, 2, 0, 0, 0])
        out.append(Raster.chunk("IHDR", ihdr))
        out.append(Raster.chunk("IDAT", z))
        out.append(Raster.chunk("IEND", Data()))
        return out
    }

    /// One final deflate block with the fixed Huffman code (RFC 1951 §3.2.6): a byte, then its repeats as
    /// length/distance-1 matches of 3…258.
    static func deflateRuns(_ data: [UInt8]) -> [UInt8] {
        var out = [UInt8](), acc: UInt32 = 0, bits = 0
        func put(_ value: Int, _ n: Int) {  // n bits, least significant first
            acc |= UInt32(value) << UInt32(bits)
            bits += n
            while bits >= 8 { out.append(UInt8(acc & 0xff)); acc >>= 8; bits -= 8 }
        }
        func huffman(_ code: Int, _ n: Int) {  // Huffman codes go most significant bit first
            var r = 0
            for k in 0..<n { r |= ((code >> k) & 1) << (n - 1 - k) }
            put(r, n)
        }
        func symbol(_ v: Int) {
            switch v {
            case 0...143: huffman(0x30 + v, 8)
            case 144...255: huffman(0x190 + v - 144, 9)
            case 256...279: huffman(v - 256, 7)
            default: huffman(0xC0 + v - 280, 8)
            }
        }
        let bases = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
                     163, 195, 227, 258]
        let extra = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]
        func match(_ length: Int) {
            let k = (bases.lastIndex { $0 <= length }) ?? 0
            symbol(257 + k)
            put(length - bases[k], extra[k])
            huffman(0, 5)  // distance code 0: distance 1
        }
        put(1, 1)  // final block
        put(1, 2)  // fixed Huffman
        var i = 0
        while i < data.count {
            let v = data[i]
            symbol(Int(v))
            var run = 0
            while i + 1 + run < data.count && data[i + 1 + run] == v { run += 1 }
            var left = run
            while left >= 3 { let n = min(258, left); match(n); left -= n }
            for _ in 0..<left { symbol(Int(v)) }
            i += 1 + run
        }
        symbol(256)  // end of block
        if bits > 0 { out.append(UInt8(acc & 0xff)) }
        return out
    }

    public func writePNG(to path: String) throws {
        try png().write(to: URL(fileURLWithPath: path))
    }

    static func chunk(_ type: String, _ body: Data) -> Data {
        let typed = Data(type.utf8) + body
        return Data(be32(UInt32(body.count))) + typed + Data(be32(crc32(typed)))
    }

    static let crcTable: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func crc32(_ d: Data) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for byte in d { c = crcTable[Int((c ^ UInt32(byte)) & 0xff)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }
}

func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xff), UInt8((v >> 8) & 0xff), UInt8(v & 0xff)] }
