/// What the decode kernels multiply the weight codes with.
public enum ActivationPrecision: String, Sendable, CaseIterable {
    /// The kept activations as f32, codes widened to f32: exact (sparse at t = 0 equals dense bit for bit).
    case f32
    /// The kept activations quantized to int8 per weight group (one f32 scale each, as llama.cpp's Q8
    /// activations), summed against the integer codes (AVX-512 VNNI, AVX-VNNI or AVX2: `KernelISA`): several times
    /// less work per weight for 4- to 6-bit codes. Formats without integer codes in groups (f32/f16/bf16, per-OC
    /// int8) and 8-bit codes keep f32.
    case int8
}
