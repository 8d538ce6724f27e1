#ifndef ACTSPARSE_Q8_H
#define ACTSPARSE_Q8_H
// MARK: Sparse GEMV with int8 activations (SparseFC+DecodeQ8.swift)
// The f32 decode kernel spends ~4 operations per 16 weights widening codes to floats and multiplying: on one core
// a 4-bit FC is compute-bound at ~40 % of read bandwidth. Here the kept activations of each weight group are
// quantized to int8 (one f32 scale per group, as llama.cpp's Q8 activations) and the codes meet them in
// `vpdpbusd` (AVX512-VNNI: 4 u8 × s8 products summed into each i32 lane): ~0.08 operations per weight for 4-bit;
// AVX2 does the same with `vpmaddubsw` + `vpmaddwd` (or one 256-bit `vpdpbusd` with AVX-VNNI).
// The plain [IC, OC] layout puts different outputs side by side, so four kept rows are interleaved in registers
// (byte unpacks), the group's integer sums are transposed back to column order once per group, and the group's
// scales are applied then — sparsity stays per channel. The result equals, up to f32 rounding of the epilogue,
// the exact GEMV of the dequantized int8 activations; `actsparse_q8_gemv_scalar` is the plain twin and gives the
// same bits (same epilogue operations, integer sums are exact). The vector kernels live in kernels/*.c, one per
// instruction set, and are picked at run time (actsparse_isa_detect, KernelISA.swift).

/// One FC's weights and one token's quantized activation for the int8 GEMV.
typedef struct actsparse_q8_job {
    /// [IC, stride] plain rows: codec 4/5/6 = 16/20/24-byte blocks of 32 columns (nibbles, then bit planes; see
    /// RowCodec.swift), 8 = u8 codes, -8 = i8 codes
    const unsigned char *codes;
    long stride;
    int codec;
    /// 0: y += d·a · 1: y += d·a + m·Σx̂ · 2: y += (D·sc)·a · 3: y += (D·sc)·a − (Dmin·mn)·Σx̂, a = xs·Σ q·(code − offset)
    int kind;
    int oc, group, superBlock, signedSub, offset;
    /// Rows per pass over the columns (a multiple of 4); prefetch distance along a row in bytes (0: none)
    int passRows;
    long prefetch;
    /// kind 0/1: [IC/G, OC] f16 d and m · kind 2/3: [IC/S, OC] f16 D and Dmin
    const _Float16 *d16, *m16;
    /// kind 2/3: [IC/G, OC] sub-scales (i8 when signedSub, else u8) and u8 sub-mins
    const unsigned char *sc, *mn;
    /// The activation, as non-empty groups: group index, start in rows/q, kept count padded to a multiple of 4, Σq
    int ngroups;
    const int *gid, *gstart, *glen, *gsum;
    /// per group: activation scale xs (x̂ = xs·q) and Σx̂ = xs·Σq
    const float *gxs, *gsx;
    /// [Σ glen] kept channel indices (a group's padding repeats its last index) and their int8 values (0 padding)
    const int *rows;
    const signed char *q;
} actsparse_q8_job;

/// Code of column o (in a full 32-column block) of a plain row.
static inline int actsparse_q8_code(const unsigned char *row, int codec, int o) {
    if (codec == 8) return row[o];
    if (codec == -8) return (signed char)row[o];
    int bb = codec == 4 ? 16 : codec == 5 ? 20 : 24, k = o & 31;
    const unsigned char *b = row + (long)(o >> 5) * bb;
    int c = (b[k & 15] >> (k >= 16 ? 4 : 0)) & 15;
    for (int p = 0; p < codec - 4; p++) {
        unsigned int w;
        __builtin_memcpy(&w, b + 16 + 4 * p, 4);
        c |= ((w >> (8 * ((k & 15) & 3) + (k & 15) / 4 + (k >= 16 ? 4 : 0))) & 1) << (4 + p);
    }
    return c;
}

/// The group's scale s (d, or D·sc) of column o.
static inline float actsparse_q8_scale(const actsparse_q8_job *j, int g, int o) {
    if (j->kind < 2) return (float)j->d16[(long)g * j->oc + o];
    long sb = (long)g * j->group / j->superBlock;
    unsigned char s = j->sc[(long)g * j->oc + o];
    return (float)j->d16[sb * j->oc + o] * (j->signedSub ? (float)(signed char)s : (float)s);
}

/// The group's min term per unit of Σx̂ for column o (m, or −Dmin·mn; 0 without a min).
static inline float actsparse_q8_min(const actsparse_q8_job *j, int g, int o) {
    if (j->kind == 1) return (float)j->m16[(long)g * j->oc + o];
    if (j->kind != 3) return 0;
    long sb = (long)g * j->group / j->superBlock;
    return -((float)j->m16[sb * j->oc + o] * (float)j->mn[(long)g * j->oc + o]);
}

/// Plain scalar twin: y[o] += per kept group, for columns lo..<hi (whole 32-column blocks). y must be zeroed first.
static inline void actsparse_q8_gemv_scalar(const actsparse_q8_job *j, float *y, int lo, int hi) {
    for (int gi = 0; gi < j->ngroups; gi++) {
        int g = j->gid[gi], st = j->gstart[gi], n = j->glen[gi];
        for (int o = lo; o < hi; o++) {
            int acc = 0;
            for (int k = 0; k < n; k++)
                acc += j->q[st + k] * (actsparse_q8_code(j->codes + (long)j->rows[st + k] * j->stride, j->codec, o) - j->offset);
            float a = (float)acc * j->gxs[gi];
            y[o] = __builtin_fmaf(actsparse_q8_scale(j, g, o), a, y[o]);
            if (j->kind & 1) y[o] = __builtin_fmaf(actsparse_q8_min(j, g, o), j->gsx[gi], y[o]);
        }
    }
}


/// Plain scalar twin of the prefill GEMM: the same integer sums and the same f32 epilogue operations in the same
/// order (group by group), so the same bits; y[r, lo..<hi] for whole 32-column blocks.
static inline void actsparse_q8_gemm_scalar(const actsparse_q8_job *j, int ic, const signed char *xq, const float *xs,
                                            const int *xsum, int m, float *y, int lo, int hi) {
    const int G = j->group, ng = ic / G;
    for (int r = 0; r < m; r++)
        for (int o = lo; o < hi; o++) {
            float acc = 0;
            for (int g = 0; g < ng; g++) {
                int a = 0;
                for (int k = 0; k < G; k++)
                    a += xq[(long)r * ic + g * G + k] * (actsparse_q8_code(j->codes + (long)(g * G + k) * j->stride, j->codec, o) - j->offset);
                float xv = xs[(long)r * ng + g];
                acc = __builtin_fmaf(actsparse_q8_scale(j, g, o), (float)a * xv, acc);
                if (j->kind & 1) acc = __builtin_fmaf(actsparse_q8_min(j, g, o), xv * (float)xsum[(long)r * ng + g], acc);
            }
            y[(long)r * j->oc + o] = acc;
        }
}

/// Quantizes x [m, ic] per row and group of G: xq = round(x / xs), xs = max|x| / 127, xsum = Σxq (as
/// QuantizedActivation does for decode).
static inline void actsparse_q8_quantize_rows(const float *x, int m, int ic, int G, signed char *xq, float *xs, int *xsum) {
    const int ng = ic / G;
    for (int r = 0; r < m; r++)
        for (int g = 0; g < ng; g++) {
            const float *v = x + (long)r * ic + (long)g * G;
            float amax = 0;
            for (int k = 0; k < G; k++) amax = __builtin_fabsf(v[k]) > amax ? __builtin_fabsf(v[k]) : amax;
            float inv = amax > 0 ? 127 / amax : 0;
            int sum = 0;
            for (int k = 0; k < G; k++) {
                float q = __builtin_roundf(v[k] * inv);
                int c = q >= 127 ? 127 : q <= -127 ? -127 : q == q ? (int)q : 0;
                xq[(long)r * ic + (long)g * G + k] = (signed char)c;
                sum += c;
            }
            xs[(long)r * ng + g] = amax / 127;
            xsum[(long)r * ng + g] = sum;
        }
}


// MARK: The kernels by instruction set (kernels/dispatch.c). `isa` is an ACTSPARSE_ISA_* level the CPU has
// (actsparse_isa_detect() or lower); a level this build or CPU cannot run falls back to the scalar twins.
enum { ACTSPARSE_ISA_SCALAR = 0, ACTSPARSE_ISA_AVX2 = 1, ACTSPARSE_ISA_AVXVNNI = 2, ACTSPARSE_ISA_AVX512 = 3 };

/// The best level this CPU (and OS) runs: AVX2 needs AVX2 + FMA + F16C; AVX-VNNI adds 256-bit vpdpbusd; AVX-512
/// needs F, BW, VL, VNNI, VBMI and BITALG (Ice Lake, Sapphire Rapids, Zen 4 and later).
int actsparse_isa_detect(void);

/// y[lo..<hi] += the int8 GEMV (hi − lo a multiple of 32); acc: [hi − lo + 128] i32 scratch.
void actsparse_q8_gemv_isa(int isa, const actsparse_q8_job *j, float *y, int lo, int hi, int *acc);

/// Prefill GEMM (see actsparse_q8_gemm_scalar): panel G/4 × 512 bytes, 64-aligned; yacc m × 128 floats.
void actsparse_q8_gemm_isa(int isa, const actsparse_q8_job *j, int ic, const signed char *xq, const float *xs,
                           const int *xsum, int m, float *y, int lo, int hi, unsigned char *panel, float *yacc);

/// One KV head's attention for g query heads (see actsparse_attend_scalar): the vector kernel for head dims that
/// are multiples of 16 (32 for q8_0) and up to 8 query heads per call, the scalar twin otherwise.
void actsparse_attend_isa(int isa, const float *q, int g, int d, const void *k, const void *v, long stride, int kind,
                          int n, float scale, float *scores, float *out);

/// One scored row (see actsparse_score_row_scalar), 16 values at a time: exp by a polynomial, sums in float lanes
/// added up in double per 1,024 values.
void actsparse_score_row_isa(int isa, const float *x, int n, int next, const float *ref, float *out, double *nll,
                             double *kl);

#endif
