#ifndef ACTSPARSE_C_H
#define ACTSPARSE_C_H
// What Swift has no spelling for, used by the kernels. Inline: Swift's Clang importer inlines it.

/// Software prefetch into all cache levels. The decode kernel walks kept rows that are often only a few cache
/// lines long, too short for the hardware stream prefetcher: it prefetches the next pass's rows as it goes.
static inline void actsparse_prefetch(const void *p) { __builtin_prefetch(p, 0, 3); }
/// Prefetch into L2 only (prefetcht1). Weight streams: a prefetch into L1 holds one of the core's few L1 miss
/// buffers until its line arrives, which capped the int8 decode well under bandwidth (docs/design.md, "Kernel tuning").
static inline void actsparse_prefetch_l2(const void *p) { __builtin_prefetch(p, 0, 2); }

/// Spin-wait hint (x86 PAUSE): lets the sibling hyper-thread run and saves power while a worker polls.
static inline void actsparse_pause(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

// MARK: 5- and 6-bit codes (U5Codec, U6Codec in RowCodec.swift)
// The same lane arithmetic in Swift became per-lane shift permutes or out-of-line mask calls (3–100× slower);
// clang's vector extensions give vpmovzxbd, vptestmd and masked ors. A block of 32 columns is 16 bytes of
// nibbles (byte k: column k low, column k + 16 high) and one 32-bit plane per high bit, column k's bit at
// 8·((k mod 16) mod 4) + (k mod 16)/4 (+4 for columns 16…31).
typedef float actsparse_f32x16 __attribute__((ext_vector_type(16)));
typedef int actsparse_i32x16 __attribute__((ext_vector_type(16)));
typedef unsigned char actsparse_u8x16 __attribute__((ext_vector_type(16)));

/// The 32 columns of a 5-bit (planes = 1) or 6-bit (planes = 2) block at p as floats: out[0..<32].
static inline void actsparse_load_planes(const void *p, int planes, float *out) {
    const actsparse_i32x16 mlo = {1 << 0, 1 << 8, 1 << 16, 1 << 24, 1 << 1, 1 << 9, 1 << 17, 1 << 25,
                                  1 << 2, 1 << 10, 1 << 18, 1 << 26, 1 << 3, 1 << 11, 1 << 19, 1 << 27};
    const actsparse_i32x16 mhi = mlo << 4;
    actsparse_u8x16 b;
    __builtin_memcpy(&b, p, 16);
    actsparse_i32x16 v = __builtin_convertvector(b, actsparse_i32x16);
    actsparse_i32x16 l = v & 15, u = v >> 4;
    for (int k = 0; k < planes; k++) {
        int w;
        __builtin_memcpy(&w, (const unsigned char *)p + 16 + 4 * k, 4);
        actsparse_i32x16 h = (actsparse_i32x16)w;
        int bit = 16 << k;
        l |= ((h & mlo) != 0) & bit;
        u |= ((h & mhi) != 0) & bit;
    }
    actsparse_f32x16 fl = __builtin_convertvector(l, actsparse_f32x16), fu = __builtin_convertvector(u, actsparse_f32x16);
    __builtin_memcpy(out, &fl, 64);
    __builtin_memcpy(out + 16, &fu, 64);
}

// MARK: Loading: GGUF blocks → codes → plain-layout blocks (GGUFFile+Weights.swift; the Swift twins are
// GGMLType.unpack and the codecs' store; the tests compare the loaded weights with gguf-py's).
typedef unsigned char actsparse_u8x32 __attribute__((ext_vector_type(32)));
typedef unsigned int actsparse_u32x4 __attribute__((ext_vector_type(4)));

/// Q4_K (q5 = 0) / Q5_K (q5 = 1) block → 256 codes: chunk c of 64 elements = 32 bytes of nibbles (elements
/// 64c + j low, 64c + 32 + j high); Q5_K's qh[j] bit 2c / 2c + 1 is their bit 4.
static inline void actsparse_unpack_k45(const unsigned char *b, int q5, unsigned char *codes) {
    const unsigned char *qs = b + (q5 ? 48 : 16);
    actsparse_u8x32 qh;
    if (q5) __builtin_memcpy(&qh, b + 16, 32);
    for (int c = 0; c < 4; c++) {
        actsparse_u8x32 v;
        __builtin_memcpy(&v, qs + 32 * c, 32);
        actsparse_u8x32 lo = v & 15, hi = v >> 4;
        if (q5) {
            lo |= ((qh >> (2 * c)) & 1) << 4;
            hi |= ((qh >> (2 * c + 1)) & 1) << 4;
        }
        __builtin_memcpy(codes + 64 * c, &lo, 32);
        __builtin_memcpy(codes + 64 * c + 32, &hi, 32);
    }
}

/// Q6_K block → 256 codes (0…63): ql[64h + j] low nibble → element 128h + j, high → 128h + 64 + j;
/// qh[32h + j] bits 2s…2s+1 → element 128h + 32s + j's bits 4–5.
static inline void actsparse_unpack_q6k(const unsigned char *b, unsigned char *codes) {
    for (int h = 0; h < 2; h++) {
        actsparse_u8x32 qh;
        __builtin_memcpy(&qh, b + 128 + 32 * h, 32);
        for (int half = 0; half < 2; half++) {
            actsparse_u8x32 v;
            __builtin_memcpy(&v, b + 64 * h + 32 * half, 32);
            actsparse_u8x32 lo = (v & 15) | (((qh >> (2 * half)) & 3) << 4);       // elements 128h + 32half + j
            actsparse_u8x32 hi = (v >> 4) | (((qh >> (2 * half + 4)) & 3) << 4);  // elements 128h + 64 + 32half + j
            __builtin_memcpy(codes + 128 * h + 32 * half, &lo, 32);
            __builtin_memcpy(codes + 128 * h + 64 + 32 * half, &hi, 32);
        }
    }
}

/// Q3_K block → 256 codes in Q6_K's terms (q + 28, so that code − 32 = q − 4): hmask[j] bit 4h + s is the third
/// bit and qs[32h + j] bits 2s…2s+1 the low two of element 128h + 32s + j.
static inline void actsparse_unpack_q3k(const unsigned char *b, unsigned char *codes) {
    actsparse_u8x32 hm;
    __builtin_memcpy(&hm, b, 32);
    for (int h = 0; h < 2; h++) {
        actsparse_u8x32 qs;
        __builtin_memcpy(&qs, b + 32 + 32 * h, 32);
        for (int s = 0; s < 4; s++) {
            actsparse_u8x32 q = ((qs >> (2 * s)) & 3) | (((hm >> (4 * h + s)) & 1) << 2);
            q += 28;
            __builtin_memcpy(codes + 128 * h + 32 * s, &q, 32);
        }
    }
}

/// IQ4_NL's 16 bytes of indices → 32 int8 codes (as bytes) from ggml's non-linear table: element j is byte j's
/// low nibble, element j + 16 its high one.
static inline void actsparse_unpack_iq4nl(const unsigned char *qs, unsigned char *codes) {
    static const signed char table[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
    for (int j = 0; j < 16; j++) {
        codes[j] = (unsigned char)table[qs[j] & 15];
        codes[j + 16] = (unsigned char)table[qs[j] >> 4];
    }
}

/// Q5_0 / Q5_1 codes: qh (32 bits, bit j = element j's bit 4) and 16 bytes of nibbles (j low, j + 16 high).
static inline void actsparse_unpack_q5(const unsigned char *qh, const unsigned char *qs, unsigned char *codes) {
    unsigned int h;
    __builtin_memcpy(&h, qh, 4);
    for (int j = 0; j < 16; j++) {
        codes[j] = (qs[j] & 15) | (((h >> j) & 1) << 4);
        codes[j + 16] = (qs[j] >> 4) | (((h >> (j + 16)) & 1) << 4);
    }
}

typedef unsigned long long actsparse_u64x4 __attribute__((ext_vector_type(4)));

/// tile [32][n] bytes → out [n][32] (n a multiple of 8). Eight rows at a time: lane g of word vector w[i] holds
/// bytes r..r+8 of column 8g + i; three rounds of masked swaps (8-, 16-, 32-bit) transpose each 8 × 8 byte
/// square, after which w[k] is output row r + k, all 32 columns.
static inline void actsparse_transpose32(const unsigned char *tile, int n, unsigned char *out) {
    for (int r = 0; r < n; r += 8) {
        actsparse_u64x4 w[8];
        for (int i = 0; i < 8; i++)
            for (int g = 0; g < 4; g++) {
                unsigned long long x;
                __builtin_memcpy(&x, tile + (8 * g + i) * n + r, 8);
                w[i][g] = x;
            }
        for (int i = 0; i < 8; i += 2) {
            actsparse_u64x4 t = ((w[i] >> 8) ^ w[i + 1]) & 0x00FF00FF00FF00FFULL;
            w[i + 1] ^= t; w[i] ^= t << 8;
        }
        for (int i = 0; i < 8; i += (i % 4 == 1) ? 3 : 1) {
            actsparse_u64x4 t = ((w[i] >> 16) ^ w[i + 2]) & 0x0000FFFF0000FFFFULL;
            w[i + 2] ^= t; w[i] ^= t << 16;
        }
        for (int i = 0; i < 4; i++) {
            actsparse_u64x4 t = ((w[i] >> 32) ^ w[i + 4]) & 0x00000000FFFFFFFFULL;
            w[i + 4] ^= t; w[i] ^= t << 32;
        }
        for (int k = 0; k < 8; k++) __builtin_memcpy(out + (r + k) * 32, &w[k], 32);
    }
}

/// 32 codes → one plain block: 16 bytes of nibbles (k low, k + 16 high) and `planes` bit planes (see
/// actsparse_load_planes): the 0/1 bytes of columns 0…15 read as four words w0…w3 give the plane's low half as
/// w0 | w1 << 1 | w2 << 2 | w3 << 3.
static inline void actsparse_pack32(const unsigned char *codes, int planes, unsigned char *dst) {
    actsparse_u8x16 lo, hi;
    __builtin_memcpy(&lo, codes, 16);
    __builtin_memcpy(&hi, codes + 16, 16);
    actsparse_u8x16 nib = (lo & 15) | (hi << 4);
    __builtin_memcpy(dst, &nib, 16);
    for (int p = 0; p < planes; p++) {
        actsparse_u8x16 bl = (lo >> (4 + p)) & 1, bh = (hi >> (4 + p)) & 1;
        actsparse_u32x4 wl, wh;
        __builtin_memcpy(&wl, &bl, 16);
        __builtin_memcpy(&wh, &bh, 16);
        unsigned int word = (wl[0] | wl[1] << 1 | wl[2] << 2 | wl[3] << 3) | (wh[0] | wh[1] << 1 | wh[2] << 2 | wh[3] << 3) << 4;
        __builtin_memcpy(dst + 16 + 4 * p, &word, 4);
    }
}

// MARK: Attention over the KV cache (LlamaModel.attend): the vector kernels are in kernels/attend.c, one per
// instruction set; here the scalar twin they are tested against.
/// Element i of a cache row of `kind` (any i): the scalar reads the reference twin uses.
static inline float actsparse_kv_at(const void *row, int kind, int i) {
    const char *p = (const char *)row;
    if (kind == 0) { float f; __builtin_memcpy(&f, p + 4 * (long)i, 4); return f; }
    if (kind == 1) { _Float16 h; __builtin_memcpy(&h, p + 2 * (long)i, 2); return (float)h; }
    _Float16 d;
    __builtin_memcpy(&d, p + 34 * (long)(i >> 5), 2);
    return (float)d * (float)(signed char)p[34 * (long)(i >> 5) + 2 + (i & 31)];
}

/// The plain scalar twin of actsparse_attend (any g, any d; expf): head dims that are not a multiple of 16 run
/// here, and the tests compare the fast kernel against it.
static inline void actsparse_attend_scalar(const float *q, int g, int d, const void *k, const void *v, long stride,
                                           int kind, int n, float scale, float *scores, float *out) {
    for (int j = 0; j < g; j++) {
        float *s = scores + (long)j * n, mx = -__builtin_inff(), sum = 0;
        for (int t = 0; t < n; t++) {
            float dot = 0;
            for (int i = 0; i < d; i++) dot += q[(long)j * d + i] * actsparse_kv_at((const char *)k + (long)t * stride, kind, i);
            s[t] = dot * scale;
            mx = s[t] > mx ? s[t] : mx;
        }
        for (int t = 0; t < n; t++) { s[t] = __builtin_expf(s[t] - mx); sum += s[t]; }
        for (int i = 0; i < d; i++) {
            float acc = 0;
            for (int t = 0; t < n; t++) acc += s[t] * actsparse_kv_at((const char *)v + (long)t * stride, kind, i);
            out[(long)j * d + i] = acc / sum;
        }
    }
}

// MARK: Scoring a text (DistributedLlama.negativeLogLikelihood): one row of logits at a time.
/// The plain scalar twin of actsparse_score_row_isa: with lse = log Σ_v e^{x_v}, *nll = lse − x[next];
/// out (optional) [n] = x − lse (the log-probabilities); ref (optional) [n] reference log-probabilities, then
/// *kl = Σ_{ref_v > −80} e^{ref_v} (ref_v − (x_v − lse)) (KL(ref ‖ this row), not clamped), else *kl = 0.
static inline void actsparse_score_row_scalar(const float *x, int n, int next, const float *ref, float *out,
                                              double *nll, double *kl) {
    float mx = -__builtin_inff();
    for (int v = 0; v < n; v++) mx = x[v] > mx ? x[v] : mx;
    double sum = 0;
    for (int v = 0; v < n; v++) sum += (double)__builtin_expf(x[v] - mx);
    float lse = (float)__builtin_log(sum) + mx;
    *nll = (double)(lse - x[next]);
    if (out) for (int v = 0; v < n; v++) out[v] = x[v] - lse;
    double d = 0;
    if (ref) for (int v = 0; v < n; v++) if (ref[v] > -80) d += (double)(__builtin_expf(ref[v]) * (ref[v] - (x[v] - lse)));
    *kl = d;
}

#include "CActSparseQ8.h"
#include "CActSparseSupport.h"

/// The instruction set the including code is compiled for (Swift's `-target-cpu`, Package.swift): the floor of the
/// Swift kernels; the C kernels pick theirs at run time (actsparse_isa_detect).
static inline const char *actsparse_build_isa(void) {
#if defined(__AVX512F__) && defined(__AVX512VNNI__)
    return "AVX-512 + VNNI";
#elif defined(__AVX512F__)
    return "AVX-512";
#elif defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
    return "AVX2 + FMA + F16C";
#elif defined(__SSE2__)
    return "SSE2 (portable build: slow kernels)";
#else
    return "scalar";
#endif
}

#endif
