import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Reading a whole input file safely: only a regular file (a FIFO or device would block or never end, a directory
/// has no bytes), opened without blocking, refused above `limit` bytes before anything is allocated.
public enum RegularFile {
    /// What a file mode describes, for messages: "a directory", "a FIFO", ….
    public static func kind(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFREG: return "a regular file"
        case S_IFDIR: return "a directory"
        case S_IFIFO: return "a FIFO (named pipe)"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        case S_IFSOCK: return "a socket"
        default: return "not a regular file"
        }
    }

    /// Opens the regular file at `path` without blocking and returns its descriptor (the caller closes it) and
    /// status; anything else is refused saying what it is (`what` names the expected file: "thresholds file").
    public static func open(_ path: String, what: String) throws -> (fd: Int32, status: stat) {
        let fd = Glibc.open(path, O_RDONLY | O_NONBLOCK)
        guard fd >= 0 else {
            throw ActSparseError.file(path: path, problem: "cannot open the \(what): \(String(cString: strerror(errno)))")
        }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            close(fd)
            throw ActSparseError.file(path: path, problem: "cannot stat the \(what)")
        }
        guard st.st_mode & S_IFMT == S_IFREG else {
            close(fd)
            throw ActSparseError.file(path: path, problem: "is \(kind(st.st_mode)), expected a \(what)")
        }
        return (fd, st)
    }

    /// The bytes of the regular file at `path` (`what` names it in messages: "thresholds file").
    public static func read(_ path: String, limit: Int, what: String) throws -> Data {
        let (fd, st) = try open(path, what: what)
        defer { close(fd) }
        let size = Int(st.st_size)
        guard size <= limit else {
            throw ActSparseError.file(path: path, problem: "\(what) of \(size) bytes: expected at most \(limit)")
        }
        var data = Data(count: size)
        var done = 0
        try data.withUnsafeMutableBytes { buf in
            while done < size {
                let n = Glibc.read(fd, buf.baseAddress! + done, size - done)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else {
                    throw ActSparseError.file(path: path, problem: "cannot read the \(what) (\(done) of \(size) bytes)")
                }
                done += n
            }
        }
        return data
    }
}
