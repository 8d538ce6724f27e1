import ActSparse
import Testing

/// /proc/self/status lines as the kernel prints them ("%8lu kB" after a tab): below 10 GB padded with spaces,
/// from 10 GB on the number right after the tab (bench model printed an RSS of 0 for a 10 GB process).
@Suite("memory status lines")
struct MemoryStatusTests {
    @Test("VmRSS and friends parse with and without padding; missing or malformed lines give 0")
    func parse() {
        let text = "Name:\tactsparse\nVmHWM:\t 5000000 kB\nVmRSS:\t12345678 kB\nRssAnon:\t    1394 kB\nVmSwap:\tlots kB\n"
        #expect(Memory.status("VmHWM", in: text) == 5_000_000 * 1024)
        #expect(Memory.status("VmRSS", in: text) == 12_345_678 * 1024)
        #expect(Memory.status("RssAnon", in: text) == 1394 * 1024)
        #expect(Memory.status("VmSwap", in: text) == 0)
        #expect(Memory.status("VmPeak", in: text) == 0)
        #expect(Memory.resident() > 0)
    }
}
