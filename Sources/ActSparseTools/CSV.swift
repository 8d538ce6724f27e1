/// RFC 4180 CSV: a field with a comma, a double quote, CR or LF is quoted, its quotes doubled; lines end in LF
/// (pandas, Python's csv and spreadsheets read it). `parse` reads the same back.
public enum CSV {
    public static func field(_ s: String) -> String {
        guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return s }
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    public static func row(_ fields: [String]) -> String { fields.map(field).joined(separator: ",") }

    /// A document of `rows`, one line each, LF-terminated.
    public static func document(_ rows: [[String]]) -> String { rows.map { row($0) + "\n" }.joined() }

    /// The rows of a CSV text (quoted fields may hold commas, doubled quotes and line breaks; CRLF or LF lines;
    /// blank lines skipped).
    public static func parse(_ text: String) -> [[String]] {
        var rows: [[String]] = [], row: [String] = [], field = "", quoted = false, atStart = true
        var it = Array(text.unicodeScalars)[...]
        func endRow() {
            row.append(field)
            if !(row.count == 1 && row[0].isEmpty) { rows.append(row) }
            row = []; field = ""; atStart = true
        }
        while let c = it.popFirst() {
            if quoted {
                if c == "\"" {
                    if it.first == "\"" { it.removeFirst(); field.unicodeScalars.append("\"") } else { quoted = false }
                } else {
                    field.unicodeScalars.append(c)
                }
                continue
            }
            switch c {
            case "\"" where atStart: quoted = true; atStart = false
            case ",": row.append(field); field = ""; atStart = true
            case "\r": if it.first == "\n" { it.removeFirst() }; endRow()
            case "\n": endRow()
            default: field.unicodeScalars.append(c); atStart = false
            }
        }
        if !field.isEmpty || !row.isEmpty { endRow() }
        return rows
    }
}
