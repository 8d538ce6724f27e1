import Foundation

/// `actsparse serve` started by a test (alone or under mpirun) on a free port, with its listening URL, an HTTP
/// client (curl, as a user would) and the means to signal and reap it.
public final class ServerProcess {
    public let process: Process
    public private(set) var url = ""
    let stdout = Pipe(), stderr = Pipe()
    let errText = LockedText()

    final class LockedText: @unchecked Sendable {
        let lock = NSLock()
        var text = ""
        func append(_ s: String) { lock.lock(); text += s; lock.unlock() }
        var value: String { lock.lock(); defer { lock.unlock() }; return text }
    }

    /// Starts `actsparse serve --port 0 ARGS` (under `mpirun -np ranks` when given) and waits for its listening
    /// line; throws with its stderr if it does not come within `timeout` seconds.
    public init(_ args: [String], ranks: Int? = nil, timeout: Double = 120, env: [String: String] = [:]) throws {
        var argv: [String] = []
        if let ranks {
            argv += [MPILaunch.mpirun ?? "mpirun", "--oversubscribe", "--bind-to", "none", "--mca", "mpi_yield_when_idle",
                     "1", "-np", "\(ranks)"]
        }
        argv += [MPILaunch.actsparse, "serve", "--port", "0"] + args
        // The test runner blocks signals, and a child inherits the mask: mpirun would never see SIGUSR1, or learn
        // of a lost rank in time. Exec through a clean mask, as a shell would start it.
        if let python = MPILaunch.which("python3") {
            argv = [python, "-c", "import os, signal, sys; signal.pthread_sigmask(signal.SIG_SETMASK, []); "
                + "os.execv(sys.argv[1], sys.argv[1:])"] + argv
        }
        process = Process()
        process.executableURL = URL(fileURLWithPath: argv[0])
        process.arguments = Array(argv.dropFirst())
        var e = ProcessInfo.processInfo.environment
        e["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
        e["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
        for (k, v) in env { e[k] = v }
        process.environment = e
        process.standardOutput = stdout
        process.standardError = stderr
        let errText = self.errText
        stderr.fileHandleForReading.readabilityHandler = { h in
            let d = h.availableData
            if !d.isEmpty { errText.append(String(decoding: d, as: UTF8.self)) }
        }
        try process.run()
        // The first stdout line names the URL.
        let deadline = Date().addingTimeInterval(timeout)
        let out = stdout.fileHandleForReading
        let got = DispatchSemaphore(value: 0)
        let box = LockedText()
        DispatchQueue.global().async {
            var line = Data()
            while true {
                let d = out.readData(ofLength: 1)
                if d.isEmpty || d == Data("\n".utf8) { break }
                line.append(d)
            }
            box.append(String(decoding: line, as: UTF8.self))
            got.signal()
        }
        if got.wait(timeout: .now() + deadline.timeIntervalSinceNow) == .timedOut || !box.value.hasPrefix("listening on ") {
            process.terminate()
            Thread.sleep(forTimeInterval: 0.5)
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            throw ServerError.notListening(box.value + "\n" + errText.value)
        }
        url = String(box.value.split(separator: " ")[2])
    }

    public enum ServerError: Error, CustomStringConvertible {
        case notListening(String)
        public var description: String {
            switch self { case .notListening(let s): return "the server did not start listening: \(s)" }
        }
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            for p in descendants() { kill(p, SIGKILL) }
        }
    }

    public var stderrText: String { errText.value }
    public var port: String { String(url.split(separator: ":").last ?? "") }

    public func signal(_ sig: Int32) { kill(process.processIdentifier, sig) }

    /// The exit status, or nil if it still runs after `timeout` seconds (then it is killed).
    public func wait(timeout: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        guard !process.isRunning else {
            for p in descendants() { kill(p, SIGKILL) }
            kill(process.processIdentifier, SIGKILL)
            return nil
        }
        return process.terminationStatus
    }

    /// Processes started under this one (mpirun's ranks), by walking /proc.
    public func descendants() -> [Int32] {
        var children: [Int32: [Int32]] = [:]
        for d in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(d), let stat = try? String(contentsOfFile: "/proc/\(d)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 1, let ppid = Int32(fields[1]) { children[ppid, default: []].append(pid) }
        }
        var out: [Int32] = [], todo = [process.processIdentifier]
        while let p = todo.popLast() {
            for c in children[p] ?? [] { out.append(c); todo.append(c) }
        }
        return out
    }

    /// The actsparse processes (the ranks), lowest PID first (rank 0 is started first).
    public func ranks() -> [Int32] {
        let mine = [process.processIdentifier] + descendants()
        return mine.filter { pid in
            guard let cmd = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
            return String(decoding: cmd.split(separator: 0).first ?? [], as: UTF8.self).hasSuffix("/actsparse")
        }.sorted()
    }

    /// CPU seconds (user + system) a process has used.
    public static func cpuSeconds(_ pid: Int32) -> Double? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        let f = stat[stat.index(after: close)...].split(separator: " ")
        guard f.count > 13, let u = Double(f[11]), let s = Double(f[12]) else { return nil }
        return (u + s) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    public struct HTTPResult {
        public var status: Int
        public var body: String
        public var headers: String
        public var json: [String: Any]? {
            (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any]
        }
        /// OpenAI's error shape: {"error": {"message", "type", "param", "code"}}.
        public var error: [String: Any]? { json?["error"] as? [String: Any] }
        /// The `data:` events of a stream (without [DONE]), decoded.
        public var events: [[String: Any]] {
            body.split(separator: "\n").filter { $0.hasPrefix("data: ") && $0 != "data: [DONE]" }.compactMap {
                (try? JSONSerialization.jsonObject(with: Data($0.dropFirst(6).utf8))) as? [String: Any]
            }
        }
        /// The text of a stream: every delta's content (chat) or text (completions).
        public var streamedText: String {
            events.compactMap { ($0["choices"] as? [[String: Any]])?.first }.map {
                ($0["text"] as? String) ?? (($0["delta"] as? [String: Any])?["content"] as? String) ?? ""
            }.joined()
        }
    }

    /// `curl` to this server: method, path, JSON body (or a file with `bodyFile`), extra headers.
    public func curl(_ path: String, body: String? = nil, bodyFile: String? = nil, headers: [String] = [],
                     timeout: Int = 120) throws -> HTTPResult {
        try ServerProcess.curl(url + path, body: body, bodyFile: bodyFile, headers: headers, timeout: timeout)
    }

    public static func curl(_ url: String, body: String? = nil, bodyFile: String? = nil, headers: [String] = [],
                            timeout: Int = 120) throws -> HTTPResult {
        let dir = FileManager.default.temporaryDirectory
        let headerFile = dir.appendingPathComponent("h-\(UUID()).txt").path
        defer { try? FileManager.default.removeItem(atPath: headerFile) }
        var args = ["-sS", "-N", "--max-time", "\(timeout)", "-D", headerFile, "-w", "\n%{http_code}", url]
        if let body { args += ["-H", "Content-Type: application/json", "--data-binary", body] }
        if let bodyFile { args += ["-H", "Content-Type: application/json", "--data-binary", "@" + bodyFile] }
        for h in headers { args += ["-H", h] }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: MPILaunch.which("curl") ?? "/usr/bin/curl")
        p.arguments = args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        let status = Int(text.split(separator: "\n").last ?? "") ?? 0
        let body = text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().joined(separator: "\n")
        let headersText = (try? String(contentsOfFile: headerFile, encoding: .utf8)) ?? ""
        return HTTPResult(status: status, body: body, headers: headersText)
    }

    /// The value of a /metrics line `name{…} value` whose labels contain `labels`.
    public static func metric(_ text: String, _ name: String, _ labels: String = "") -> Double? {
        text.split(separator: "\n").first { $0.hasPrefix(name + "{") && (labels.isEmpty || $0.contains(labels)) }
            .flatMap { $0.split(separator: " ").last }.flatMap { Double($0) }
    }

    /// Waits (≤ 30 s) until the server has at least `n` requests queued or running.
    public func waitForQueue(_ n: Int) throws {
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if let d = ServerProcess.metric(try curl("/metrics").body, "actsparse_queue_depth"), d >= Double(n) { return }
            Thread.sleep(forTimeInterval: 0.02)
        }
    }

    /// Runs `curl` in the background (a request to hold the server busy); returns the process and its output pipe.
    public func curlInBackground(_ path: String, body: String) throws -> (Process, Pipe) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: MPILaunch.which("curl") ?? "/usr/bin/curl")
        p.arguments = ["-sS", "-N", "--max-time", "300", "-w", "\n%{http_code}", url + path,
                       "-H", "Content-Type: application/json", "--data-binary", body]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        return (p, out)
    }
}

/// The PyPI `openai` package, installed by launch/test into the cache (ACTSPARSE_OPENAI_PATH overrides).
public enum OpenAIClient {
    public static var path: String {
        let env = ProcessInfo.processInfo.environment
        if let p = env["ACTSPARSE_OPENAI_PATH"] { return p }
        return (env["XDG_CACHE_HOME"] ?? (NSHomeDirectory() + "/.cache")) + "/actsparse/py-openai"
    }
    public static var available: Bool {
        FileManager.default.fileExists(atPath: path + "/openai/__init__.py") && MPILaunch.which("python3") != nil
    }

    /// Chat (streaming and not), a completion, the model list and an unknown model with the `openai` package;
    /// prints one JSON object. Arguments: base URL, API key (the model is the one /v1/models lists).
    public static let smokeScript = """
        import json, sys
        from openai import OpenAI
        c = OpenAI(base_url=sys.argv[1] + "/v1", api_key=sys.argv[2])
        msgs = [{"role": "user", "content": "Name a colour."}]
        models = [m.id for m in c.models.list().data]
        sys.argv[3:] = [models[0]]
        r = c.chat.completions.create(model=sys.argv[3], messages=msgs, max_tokens=16, temperature=0)
        parts = []
        for chunk in c.chat.completions.create(model=sys.argv[3], messages=msgs, max_tokens=16, temperature=0, stream=True):
            if chunk.choices and chunk.choices[0].delta.content:
                parts.append(chunk.choices[0].delta.content)
        t = c.completions.create(model=sys.argv[3], prompt="The sea is", max_tokens=8, temperature=0)
        try:
            c.chat.completions.create(model="no-such-model", messages=msgs, max_tokens=4)
            missing = "answered"
        except Exception as e:
            missing = type(e).__name__
        print(json.dumps({"text": r.choices[0].message.content, "stream": "".join(parts),
                          "usage": r.usage.completion_tokens, "finish": r.choices[0].finish_reason,
                          "completion": t.choices[0].text, "models": models, "missing": missing}))
        """

    /// Runs a Python script with `openai` importable; returns status and stdout (stderr appended on failure).
    public static func python(_ script: String, args: [String] = [], timeout: Int = 180) throws -> (status: Int32, out: String) {
        let r = try timed([MPILaunch.which("python3") ?? "/usr/bin/python3", "-c", script] + args, timeout: timeout)
        return (r.status, r.status == 0 ? r.out : r.out + r.err)
    }

    /// Runs `argv` under `timeout` with `openai` importable (and `extraPath` first on PATH); status, stdout, stderr.
    public static func timed(_ argv: [String], timeout: Int, extraPath: String? = nil, directory: URL? = nil) throws
        -> (status: Int32, out: String, err: String)
    {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: MPILaunch.which("timeout") ?? "/usr/bin/timeout")
        p.arguments = ["\(timeout)"] + argv
        var env = ProcessInfo.processInfo.environment
        env["PYTHONPATH"] = path
        if let extraPath { env["PATH"] = extraPath + ":" + (env["PATH"] ?? "/usr/bin:/bin") }
        p.environment = env
        p.currentDirectoryURL = directory
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let e = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return (p.terminationStatus, o, e)
    }
}
