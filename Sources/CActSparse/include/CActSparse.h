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

// MARK: Attention over the KV cache (LlamaModel.attend)
// Swift lowered the per-score horizontal sums to chains of dependent adds and the f16 keys to per-lane
// conversions, far under bandwidth (docs/design.md, "Kernel tuning"). Here: every key row is converted once (vcvtph2ps), scores for up to
// 8 query heads of one KV head are accumulated side by side, sums reduce by halves, and the weighted values are
// summed 16 dimensions at a time in registers.
typedef float actsparse_f32x8 __attribute__((ext_vector_type(8)));
typedef float actsparse_f32x4 __attribute__((ext_vector_type(4)));
typedef _Float16 actsparse_f16x16 __attribute__((ext_vector_type(16)));

typedef signed char actsparse_i8x16 __attribute__((ext_vector_type(16)));

/// Byte offset of element i (a multiple of 16) in a row of kind 0 (f32), 1 (f16) or 2 (q8_0: blocks of 32 int8
/// codes after one f16 scale, 34 bytes).
static inline long actsparse_kv_offset(int kind, int i) {
    return kind == 0 ? 4 * (long)i : kind == 1 ? 2 * (long)i : 34 * (long)(i >> 5) + 2 + (i & 31);
}

/// 16 floats at element i (a multiple of 16) of a row of f32, f16 or q8_0 values.
static inline actsparse_f32x16 actsparse_row16(const void *row, int kind, int i) {
    const char *p = (const char *)row;
    if (kind == 1) {
        actsparse_f16x16 h;
        __builtin_memcpy(&h, p + 2 * (long)i, 32);
        return __builtin_convertvector(h, actsparse_f32x16);
    }
    if (kind == 2) {
        const char *blk = p + 34 * (long)(i >> 5);
        _Float16 d;
        actsparse_i8x16 q;
        __builtin_memcpy(&d, blk, 2);
        __builtin_memcpy(&q, blk + 2 + (i & 31), 16);
        return __builtin_convertvector(q, actsparse_f32x16) * (float)d;
    }
    actsparse_f32x16 f;
    __builtin_memcpy(&f, p + 4 * (long)i, 64);
    return f;
}

static inline float actsparse_sum16(actsparse_f32x16 a) {
    actsparse_f32x8 b = a.lo + a.hi;
    actsparse_f32x4 c = b.lo + b.hi;
    return (c[0] + c[2]) + (c[1] + c[3]);
}

/// e^x for x ≤ 0 (softmax arguments), 16 at a time: x = k·ln 2 + r, |r| ≤ ln 2 / 2, e^r by its degree-6 Taylor
/// polynomial (error < 2^-23 relative), 2^k through the exponent bits; below −87 it flushes to ~0.
static inline actsparse_f32x16 actsparse_exp16(actsparse_f32x16 x) {
    x = x < -87.0f ? (actsparse_f32x16)-87.0f : x;
    actsparse_f32x16 k = (x * 1.44269504f + 12582912.0f) - 12582912.0f;  // round to nearest
    actsparse_f32x16 r = (x - k * 0.693145752f) - k * 1.42860677e-6f;  // ln 2 in two parts
    actsparse_f32x16 p = 1.0f / 720;
    p = p * r + 1.0f / 120;
    p = p * r + 1.0f / 24;
    p = p * r + 1.0f / 6;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    actsparse_i32x16 bits = (__builtin_convertvector(k, actsparse_i32x16) + 127) << 23;
    actsparse_f32x16 scale;
    __builtin_memcpy(&scale, &bits, 64);
    return p * scale;
}

/// s[0..<n] = softmax(s) in place, 16 at a time (the tail in scalar code).
static inline void actsparse_softmax(float *s, int n) {
    int m = n & ~15, t;
    float mx = s[0], sum = 0;
    actsparse_f32x16 vm = (actsparse_f32x16)s[0], vs = (actsparse_f32x16)0;
    for (t = 0; t < m; t += 16) {
        actsparse_f32x16 x;
        __builtin_memcpy(&x, s + t, 64);
        vm = x > vm ? x : vm;
    }
    for (t = 0; t < 16; t++) mx = vm[t] > mx ? vm[t] : mx;
    for (t = m; t < n; t++) mx = s[t] > mx ? s[t] : mx;
    for (t = 0; t < m; t += 16) {
        actsparse_f32x16 x;
        __builtin_memcpy(&x, s + t, 64);
        x = actsparse_exp16(x - mx);
        vs += x;
        __builtin_memcpy(s + t, &x, 64);
    }
    for (t = m; t < n; t++) { s[t] = __builtin_expf(s[t] - mx); sum += s[t]; }
    sum += actsparse_sum16(vs);
    float inv = 1 / sum;
    for (t = 0; t < n; t++) s[t] *= inv;
}

/// Causal attention of `g` (1…8) query heads that share one KV head, over positions 0..<n:
/// scores[j][t] = scale · q_j · k_t, softmax over t, out_j = Σ_t p_j[t] · v_t.
/// q [g][d] and out [g][d] floats, d a multiple of 16 (32 for q8_0); key and value rows at k and v, `stride` bytes apart,
/// of `kind` (0 f32, 1 f16, 2 q8_0); scores [g][n] scratch. One variant per g, every loop over heads and chunks of
/// constant length and fully unrolled so that the accumulators live in registers. Values: C chunks of 16 dims per
/// pass over the positions (G·C ≤ 16 accumulators), so a row's lines are read in one pass, not one per 16 dims
/// (a 128-dim f16 head: 2 passes instead of 8) (docs/design.md, "Kernel tuning").
#define ACTSPARSE_UNROLL _Pragma("clang loop unroll(full)")
#define ACTSPARSE_ATTEND(NG)                                                                                        \
    static inline void actsparse_attend_##NG(const float *q, int d, const void *k, const void *v, long stride,       \
                                            int kind, int n, float scale, float *scores, float *out) {              \
        enum { G = NG, C = NG <= 4 ? 4 : 2 };                                                                       \
        const int rowBytes = kind == 2 ? d / 32 * 34 : d << (2 - kind); /* one head's row bytes */                 \
        for (int t = 0; t < n; t++) {                                                                               \
            const char *kr = (const char *)k + (long)t * stride;                                                    \
            for (int b = 0; b < rowBytes; b += 64) __builtin_prefetch(kr + 16 * stride + b, 0, 3);                  \
            actsparse_f32x16 a[G];                                                                                  \
            ACTSPARSE_UNROLL for (int j = 0; j < G; j++) a[j] = (actsparse_f32x16)0;                               \
            for (int i = 0; i < d; i += 16) {                                                                       \
                actsparse_f32x16 kk = actsparse_row16(kr, kind, i);                                                 \
                ACTSPARSE_UNROLL for (int j = 0; j < G; j++) {                                                      \
                    actsparse_f32x16 qq;                                                                            \
                    __builtin_memcpy(&qq, q + (long)j * d + i, 64);                                                 \
                    a[j] += qq * kk;                                                                                \
                }                                                                                                   \
            }                                                                                                       \
            ACTSPARSE_UNROLL for (int j = 0; j < G; j++) scores[(long)j * n + t] = actsparse_sum16(a[j]) * scale;  \
        }                                                                                                           \
        for (int j = 0; j < G; j++) actsparse_softmax(scores + (long)j * n, n);                                     \
        int i0 = 0;                                                                                                 \
        for (; i0 + 16 * C <= d; i0 += 16 * C) {                                                                   \
            actsparse_f32x16 acc[G][C];                                                                             \
            ACTSPARSE_UNROLL for (int j = 0; j < G; j++) ACTSPARSE_UNROLL for (int c = 0; c < C; c++)              \
                acc[j][c] = (actsparse_f32x16)0;                                                                    \
            for (int t = 0; t < n; t++) {                                                                           \
                const char *vr = (const char *)v + (long)t * stride;                                                \
                __builtin_prefetch(vr + 16 * stride + actsparse_kv_offset(kind, i0), 0, 3);                         \
                actsparse_f32x16 vv[C];                                                                             \
                ACTSPARSE_UNROLL for (int c = 0; c < C; c++) vv[c] = actsparse_row16(vr, kind, i0 + 16 * c);        \
                ACTSPARSE_UNROLL for (int j = 0; j < G; j++) {                                                      \
                    actsparse_f32x16 p = (actsparse_f32x16)scores[(long)j * n + t];                                 \
                    ACTSPARSE_UNROLL for (int c = 0; c < C; c++) acc[j][c] += p * vv[c];                            \
                }                                                                                                   \
            }                                                                                                       \
            ACTSPARSE_UNROLL for (int j = 0; j < G; j++) ACTSPARSE_UNROLL for (int c = 0; c < C; c++)              \
                __builtin_memcpy(out + (long)j * d + i0 + 16 * c, &acc[j][c], 64);                                  \
        }                                                                                                           \
        for (int i = i0; i < d; i += 16) { /* the remaining chunks, one pass each */                                \
            actsparse_f32x16 a[G];                                                                                  \
            ACTSPARSE_UNROLL for (int j = 0; j < G; j++) a[j] = (actsparse_f32x16)0;                               \
            for (int t = 0; t < n; t++) {                                                                           \
                actsparse_f32x16 vv = actsparse_row16((const char *)v + (long)t * stride, kind, i);                 \
                ACTSPARSE_UNROLL for (int j = 0; j < G; j++) a[j] += scores[(long)j * n + t] * vv;                  \
            }                                                                                                       \
            ACTSPARSE_UNROLL for (int j = 0; j < G; j++) __builtin_memcpy(out + (long)j * d + i, &a[j], 64);        \
        }                                                                                                           \
    }
ACTSPARSE_ATTEND(1)
ACTSPARSE_ATTEND(2)
ACTSPARSE_ATTEND(3)
ACTSPARSE_ATTEND(4)
ACTSPARSE_ATTEND(5)
ACTSPARSE_ATTEND(6)
ACTSPARSE_ATTEND(7)
ACTSPARSE_ATTEND(8)
#undef ACTSPARSE_ATTEND
#undef ACTSPARSE_UNROLL

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

/// One KV head's attention for g query heads (see actsparse_attend_G): the vector kernel for head dims that are
/// multiples of 16 (32 for q8_0) and up to 8 query heads per call, the scalar twin otherwise.
static inline void actsparse_attend(const float *q, int g, int d, const void *k, const void *v, long stride,
                                    int kind, int n, float scale, float *scores, float *out) {
    if (d % 16 != 0 || (kind == 2 && d % 32 != 0) || g < 1 || g > 8) {
        actsparse_attend_scalar(q, g, d, k, v, stride, kind, n, scale, scores, out);
        return;
    }
    switch (g) {
    case 1: actsparse_attend_1(q, d, k, v, stride, kind, n, scale, scores, out); break;
    case 2: actsparse_attend_2(q, d, k, v, stride, kind, n, scale, scores, out); break;
    case 3: actsparse_attend_3(q, d, k, v, stride, kind, n, scale, scores, out); break;
    case 4: actsparse_attend_4(q, d, k, v, stride, kind, n, scale, scores, out); break;
    case 5: actsparse_attend_5(q, d, k, v, stride, kind, n, scale, scores, out); break;
    case 6: actsparse_attend_6(q, d, k, v, stride, kind, n, scale, scores, out); break;
    case 7: actsparse_attend_7(q, d, k, v, stride, kind, n, scale, scores, out); break;
    default: actsparse_attend_8(q, d, k, v, stride, kind, n, scale, scores, out); break;
    }
}

#include "CActSparseQ8.h"

/// The instruction set the kernels were compiled for (the package builds for the host CPU): what `--version` and
/// the run summaries report.
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
