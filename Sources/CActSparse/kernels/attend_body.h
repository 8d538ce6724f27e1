// Attention over the KV cache (LlamaModel.attend), compiled once per instruction set: attend_avx2.c and
// attend_avx512.c include this file under their target attribute and name its entry ACTSPARSE_ATTEND_ENTRY.
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

/// One KV head's attention for g query heads (see ACTSPARSE_ATTEND above): the vector kernel for head dims that are
/// multiples of 16 (32 for q8_0) and up to 8 query heads per call, the scalar twin otherwise.
void ACTSPARSE_ATTEND_ENTRY(const float *q, int g, int d, const void *k, const void *v, long stride, int kind, int n,
                            float scale, float *scores, float *out) {
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


/// One scored row (actsparse_score_row_scalar's contract), 16 values at a time; the tail in scalar code.
void ACTSPARSE_SCORE_ENTRY(const float *x, int n, int next, const float *ref, float *out, double *nll, double *kl) {
    int m = n & ~15, t;
    float mx = -__builtin_inff();
    actsparse_f32x16 vm = (actsparse_f32x16)(-__builtin_inff());
    for (t = 0; t < m; t += 16) {
        actsparse_f32x16 v;
        __builtin_memcpy(&v, x + t, 64);
        vm = v > vm ? v : vm;
    }
    for (t = 0; t < 16; t++) mx = vm[t] > mx ? vm[t] : mx;
    for (t = m; t < n; t++) mx = x[t] > mx ? x[t] : mx;
    double sum = 0;
    for (int b = 0; b < m; b += 1024) {  // float lanes for 1,024 values, then double
        actsparse_f32x16 vs = (actsparse_f32x16)0;
        int e = b + 1024 < m ? b + 1024 : m;
        for (t = b; t < e; t += 16) {
            actsparse_f32x16 v;
            __builtin_memcpy(&v, x + t, 64);
            vs += actsparse_exp16(v - mx);
        }
        sum += (double)actsparse_sum16(vs);
    }
    for (t = m; t < n; t++) sum += (double)__builtin_expf(x[t] - mx);
    float lse = (float)__builtin_log(sum) + mx;
    *nll = (double)(lse - x[next]);
    if (out) {
        for (t = 0; t < m; t += 16) {
            actsparse_f32x16 v;
            __builtin_memcpy(&v, x + t, 64);
            v -= lse;
            __builtin_memcpy(out + t, &v, 64);
        }
        for (t = m; t < n; t++) out[t] = x[t] - lse;
    }
    double d = 0;
    if (ref) {
        for (int b = 0; b < m; b += 1024) {
            actsparse_f32x16 vd = (actsparse_f32x16)0;
            int e = b + 1024 < m ? b + 1024 : m;
            for (t = b; t < e; t += 16) {
                actsparse_f32x16 r, v;
                __builtin_memcpy(&r, ref + t, 64);
                __builtin_memcpy(&v, x + t, 64);
                actsparse_f32x16 term = actsparse_exp16(r) * (r - (v - lse));
                vd += r > -80.0f ? term : (actsparse_f32x16)0;
            }
            d += (double)actsparse_sum16(vd);
        }
        for (t = m; t < n; t++) if (ref[t] > -80) d += (double)(__builtin_expf(ref[t]) * (ref[t] - (x[t] - lse)));
    }
    *kl = d;
}
