import ActSparseTestSupport
import ActSparseTools
import Foundation
import Testing

/// Reports are RFC 4180: a variant named "uniform, MLP only" once made rows of 17 fields under a 16-field header.
@Suite("CSV")
struct CSVTests {
    static let rows = [["variant", "x", "note"], ["uniform, MLP only", "0.5", "plain"], ["a \"quoted\" name", "1", "two\nlines"],
                       ["", "-", "trailing,comma,"]]

    @Test("fields with commas, quotes and line breaks round-trip through parse")
    func roundTrip() {
        let text = CSV.document(Self.rows)
        #expect(CSV.parse(text) == Self.rows)
        #expect(CSV.row(["a", "b,c"]) == "a,\"b,c\"")
        #expect(CSV.parse("a,b\r\nc,d\r\n\r\n") == [["a", "b"], ["c", "d"]])
    }

    @Test("Python's csv module reads the same rows, every one as wide as the header")
    func python() throws {
        let python = try #require(MPILaunch.which("python3"), "python3 is the independent reader")
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("csv-\(UUID()).csv").path
        try CSV.document(Self.rows).write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let r = try MPILaunch.command([python, "-c", "import csv, json, sys; print(json.dumps(list(csv.reader(open(sys.argv[1], newline='')))))", path])
        let read = try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [[String]]
        #expect(read == Self.rows, "\(r.out) \(r.err)")
    }
}
