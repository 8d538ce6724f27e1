import Foundation

/// A JSON decoding error as one line that says where: the key path for a wrong or missing value
/// ("gateUp[3][1]: expected a number, found a string"), line and column for a syntax error (JSONDecoder does not
/// say where; JSONSerialization's parser names the character, turned into line:column here).
public enum JSONDiagnostics {
    public static func describe(_ error: Error, in data: Data) -> String {
        func path(_ keys: [CodingKey]) -> String {
            var out = ""
            for k in keys { out += k.intValue.map { "[\($0)]" } ?? (out.isEmpty ? k.stringValue : ".\(k.stringValue)") }
            return out.isEmpty ? "the top level" : out
        }
        switch error {
        case let DecodingError.typeMismatch(type, c):
            return "at \(path(c.codingPath)): expected \(type), \(c.debugDescription)"
        case let DecodingError.valueNotFound(type, c):
            return "at \(path(c.codingPath)): expected \(type), found null"
        case let DecodingError.keyNotFound(key, c):
            return "at \(path(c.codingPath + [key])): missing key \"\(key.stringValue)\""
        case let DecodingError.dataCorrupted(c) where !c.codingPath.isEmpty:
            return "at \(path(c.codingPath)): \(c.debugDescription)"
        default:
            return syntax(data) ?? "\(error)"
        }
    }

    /// Where the parser stops, as "line L, column C: reason" (nil if it parses).
    static func syntax(_ data: Data) -> String? {
        do {
            _ = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
            return nil
        } catch {
            let reason = ((error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String) ?? "\(error)"
            // "… around character N." → line and column of byte N.
            guard let r = reason.range(of: #"character (\d+)"#, options: .regularExpression),
                  let n = Int(reason[r].dropFirst("character ".count)) else { return "invalid JSON: \(reason)" }
            let upto = data.prefix(max(0, min(n, data.count)))
            let line = upto.reduce(1) { $1 == UInt8(ascii: "\n") ? $0 + 1 : $0 }
            let column = upto.count - (upto.lastIndex(of: UInt8(ascii: "\n")).map { $0 - upto.startIndex + 1 } ?? 0) + 1
            return "invalid JSON at line \(line), column \(column) (byte \(n)): \(reason)"
        }
    }
}
