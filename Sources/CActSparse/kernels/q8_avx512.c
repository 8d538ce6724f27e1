// The int8 GEMV and prefill GEMM on AVX-512 with VNNI, VBMI and BITALG (Ice Lake, Sapphire Rapids, Zen 4 and later).
// Compiled for that instruction set whatever the build's flags (a target attribute on every function below) and
// called only when the CPU has it (dispatch.c): one binary runs on any x86-64.
#include "CActSparse.h"
#include "kernels.h"
#if defined(__x86_64__)
#include <immintrin.h>
#pragma clang attribute push(__attribute__((target(ACTSPARSE_TARGET_AVX512))), apply_to = function)


#define ACTSPARSE_R16(b) b, b + 1, b + 2, b + 3, b + 4, b + 5, b + 6, b + 7, b + 8, b + 9, b + 10, b + 11, b + 12, b + 13, b + 14, b + 15
/// Nibble bytes of four 20- / 24-byte blocks gathered to 16 bytes per 128-bit lane.
static const unsigned char actsparse_q8_nib20[64] = {ACTSPARSE_R16(0), ACTSPARSE_R16(20), ACTSPARSE_R16(40), ACTSPARSE_R16(60)};
static const unsigned char actsparse_q8_nib24[64] = {ACTSPARSE_R16(0), ACTSPARSE_R16(24), ACTSPARSE_R16(48), ACTSPARSE_R16(72)};
#undef ACTSPARSE_R16
/// Block b's plane word p in every dword of lane b (20-byte blocks: plane 0; 24-byte: planes 0, 1).
static const int actsparse_q8_plane20[16] = {4, 4, 4, 4, 9, 9, 9, 9, 14, 14, 14, 14, 19, 19, 19, 19};
static const int actsparse_q8_plane24[2][16] = {{4, 4, 4, 4, 10, 10, 10, 10, 16, 16, 16, 16, 22, 22, 22, 22},
                                                {5, 5, 5, 5, 11, 11, 11, 11, 17, 17, 17, 17, 23, 23, 23, 23}};
/// Bit of column k (0…15) of a block in its plane word (see planeBit in RowCodec.swift), per byte of a lane; +4
/// for columns 16…31.
#define ACTSPARSE_PB(o) 0 + o, 8 + o, 16 + o, 24 + o, 1 + o, 9 + o, 17 + o, 25 + o, 2 + o, 10 + o, 18 + o, 26 + o, 3 + o, 11 + o, 19 + o, 27 + o
static const unsigned char actsparse_q8_bits_lo[64] = {ACTSPARSE_PB(0), ACTSPARSE_PB(0), ACTSPARSE_PB(0), ACTSPARSE_PB(0)};
static const unsigned char actsparse_q8_bits_hi[64] = {ACTSPARSE_PB(4), ACTSPARSE_PB(4), ACTSPARSE_PB(4), ACTSPARSE_PB(4)};
#undef ACTSPARSE_PB

/// Four rows' byte vectors a0…a3 (the same 64 columns each) meet the four activations x (one dword): lane L, dword
/// j of Q_s sums the products of column byte 16L + 4s + j.
#define ACTSPARSE_Q8_STEP(a0, a1, a2, a3, Q0, Q1, Q2, Q3)                                                            \
    {                                                                                                              \
        __m512i p01l = _mm512_unpacklo_epi8(a0, a1), p01h = _mm512_unpackhi_epi8(a0, a1);                          \
        __m512i p23l = _mm512_unpacklo_epi8(a2, a3), p23h = _mm512_unpackhi_epi8(a2, a3);                          \
        Q0 = _mm512_dpbusd_epi32(Q0, _mm512_unpacklo_epi16(p01l, p23l), x);                                        \
        Q1 = _mm512_dpbusd_epi32(Q1, _mm512_unpackhi_epi16(p01l, p23l), x);                                        \
        Q2 = _mm512_dpbusd_epi32(Q2, _mm512_unpacklo_epi16(p01h, p23h), x);                                        \
        Q3 = _mm512_dpbusd_epi32(Q3, _mm512_unpackhi_epi16(p01h, p23h), x);                                        \
    }

/// Q_s (lane L, dword j = byte 16L + 4s + j) → V_L (the 16 bytes of lane L in order): a 4 × 4 transpose of lanes.
#define ACTSPARSE_Q8_TRANSPOSE(Q0, Q1, Q2, Q3)                                                                       \
    {                                                                                                              \
        __m512i tq8_0_ = _mm512_shuffle_i32x4(Q0, Q1, 0x44), tq8_1_ = _mm512_shuffle_i32x4(Q2, Q3, 0x44);                  \
        __m512i tq8_2_ = _mm512_shuffle_i32x4(Q0, Q1, 0xEE), tq8_3_ = _mm512_shuffle_i32x4(Q2, Q3, 0xEE);                  \
        Q0 = _mm512_shuffle_i32x4(tq8_0_, tq8_1_, 0x88); Q1 = _mm512_shuffle_i32x4(tq8_0_, tq8_1_, 0xDD);                          \
        Q2 = _mm512_shuffle_i32x4(tq8_2_, tq8_3_, 0x88); Q3 = _mm512_shuffle_i32x4(tq8_2_, tq8_3_, 0xDD);                          \
    }

/// Row r's two byte vectors for the tile at byte offset boff: 4/5/6-bit → low-nibble columns (lane b = block b's
/// columns 0…15) and high (16…31); 8-bit → columns 0…63 and 64…127.
static inline void actsparse_q8_load(const unsigned char *r, int codec, __mmask64 m0, __mmask64 m1, __m512i *lo,
                                     __m512i *hi) {
    const __m512i m4 = _mm512_set1_epi8(15);
    if (codec == 8 || codec == -8) {
        __m512i a = _mm512_maskz_loadu_epi8(m0, r), b = _mm512_maskz_loadu_epi8(m1, r + 64);
        if (codec == -8) {  // i8 → u8 = code + 128 (the kernel subtracts 128·Σq)
            const __m512i s = _mm512_set1_epi8((char)0x80);
            a = _mm512_xor_si512(a, s); b = _mm512_xor_si512(b, s);  // columns past the tile are never stored
        }
        *lo = a; *hi = b;
        return;
    }
    __m512i nib;
    if (codec == 4) {
        nib = _mm512_maskz_loadu_epi8(m0, r);
    } else {
        __m512i a = _mm512_maskz_loadu_epi8(m0, r), b = _mm512_maskz_loadu_epi8(m1, r + 64);
        nib = _mm512_permutex2var_epi8(a, _mm512_loadu_si512(codec == 5 ? actsparse_q8_nib20 : actsparse_q8_nib24), b);
        __m512i l = _mm512_and_si512(nib, m4), h = _mm512_and_si512(_mm512_srli_epi16(nib, 4), m4);
        const __m512i blo = _mm512_loadu_si512(actsparse_q8_bits_lo), bhi = _mm512_loadu_si512(actsparse_q8_bits_hi);
        for (int p = 0; p < codec - 4; p++) {
            const int *idx = codec == 5 ? actsparse_q8_plane20 : actsparse_q8_plane24[p];
            __m512i w = _mm512_permutex2var_epi32(a, _mm512_loadu_si512(idx), b);
            const __m512i bit = _mm512_set1_epi8((char)(16 << p));
            l = _mm512_mask_add_epi8(l, _mm512_bitshuffle_epi64_mask(w, blo), l, bit);
            h = _mm512_mask_add_epi8(h, _mm512_bitshuffle_epi64_mask(w, bhi), h, bit);
        }
        *lo = l; *hi = h;
        return;
    }
    *lo = _mm512_and_si512(nib, m4);
    *hi = _mm512_and_si512(_mm512_srli_epi16(nib, 4), m4);
}

/// The 16 scales s (d, or D·sc) and min terms (m, −Dmin·mn; kinds 1/3) of columns o…o+15 in group g (zeros for
/// columns past the tile: c ≥ w).
static inline void actsparse_q8_scales16(const actsparse_q8_job *j, long go, long so, int o, int valid, __m512 *s, __m512 *mn) {
    *s = _mm512_setzero_ps(); *mn = _mm512_setzero_ps();
    if (!valid) return;
    if (j->kind < 2) {
        *s = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(j->d16 + go + o)));
        if (j->kind == 1) *mn = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(j->m16 + go + o)));
        return;
    }
    __m128i b = _mm_loadu_si128((const __m128i *)(j->sc + go + o));
    __m512 sub = _mm512_cvtepi32_ps(j->signedSub ? _mm512_cvtepi8_epi32(b) : _mm512_cvtepu8_epi32(b));
    *s = _mm512_mul_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(j->d16 + so + o))), sub);
    if (j->kind == 3) {
        __m512 n = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(j->mn + go + o))));
        __m512 m = _mm512_mul_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(j->m16 + so + o))), n);
        *mn = _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(m), _mm512_set1_epi32((int)0x80000000)));
    }
}

/// y[o..<o+16] += the group's epilogue for integer sums v (offsets already taken out): y += s·(xs·v), then with a
/// min y += min·Σx̂; go = the group's scale row offset g·OC, so = its super-block's (k-quants).
static inline void actsparse_q8_finish(const actsparse_q8_job *j, long go, long so, int o, __m512i v, float xs,
                                       float sx, float *y) {
    __m512 s, mn, yy = _mm512_loadu_ps(y + o);
    actsparse_q8_scales16(j, go, so, o, 1, &s, &mn);
    yy = _mm512_fmadd_ps(s, _mm512_mul_ps(_mm512_cvtepi32_ps(v), _mm512_set1_ps(xs)), yy);
    if (j->kind & 1) yy = _mm512_fmadd_ps(mn, _mm512_set1_ps(sx), yy);
    _mm512_storeu_ps(y + o, yy);
}

/// The VNNI kernel: y[o] += per kept group for columns lo..<hi (hi − lo a multiple of 32), tiles of 128 columns.
/// A group's rows go in passes of `passRows` rows over all of this chunk's columns: a pass streams that many rows
/// front to back (the hardware prefetcher follows a few sequential streams, not 32: walking all of a dense
/// group's rows tile by tile read far under bandwidth, (docs/design.md, "Kernel tuning")); the integer sums of a tile carry
/// from pass to pass in `acc` ([hi − lo] i32, lane order as accumulated) and the last pass applies the epilogue.
void actsparse_q8_gemv_avx512(const actsparse_q8_job *j, float *y, int lo, int hi, int *acc) {
    const int codec = j->codec, bb = codec == 4 ? 16 : codec == 5 ? 20 : codec == 6 ? 24 : 32;
    const int wide = codec == 8 || codec == -8, P = j->passRows;
    const long stride = j->stride;
    const long pf = j->prefetch;  // prefetch distance along a row, bytes
    const long segEnd = (long)(hi >> 5) * bb, segLo = (long)(lo >> 5) * bb;
    for (int gi = 0; gi < j->ngroups; gi++) {
        const int g = j->gid[gi], n = j->glen[gi];
        const int *rows = j->rows + j->gstart[gi];
        const signed char *q = j->q + j->gstart[gi];
        const float xs = j->gxs[gi], sx = j->gsx[gi];
        const __m512i zsum = _mm512_set1_epi32((j->offset + (codec == -8 ? 128 : 0)) * j->gsum[gi]);
        const long go = (long)g * j->oc, so = j->superBlock ? (long)g * j->group / j->superBlock * j->oc : 0;
        for (int k0 = 0; k0 < n; k0 += P) {
            const int k1 = k0 + P < n ? k0 + P : n, first = k0 == 0, last = k1 == n;
            // The next pass's rows (this group's or the next group's).
            const int *nrows = !last ? rows + k1 : gi + 1 < j->ngroups ? j->rows + j->gstart[gi + 1] : 0;
            int nn = !last ? n - k1 : gi + 1 < j->ngroups ? j->glen[gi + 1] : 0;
            nn = nn < P ? nn : P;
            for (int o = lo; o < hi; o += 128) {
                const int nb = (hi - o) >= 128 ? 4 : (hi - o) >> 5;
                const long boff = (long)(o >> 5) * bb, bytes = (long)nb * bb;
                const __mmask64 m0 = bytes >= 64 ? ~0ULL : (1ULL << bytes) - 1;
                const __mmask64 m1 = bytes <= 64 ? 0 : bytes >= 128 ? ~0ULL : (1ULL << (bytes - 64)) - 1;
                int *ap = acc + (o - lo);
                __m512i A0, A1, A2, A3, B0, B1, B2, B3;
                if (first) {
                    A0 = _mm512_setzero_si512(); A1 = A0; A2 = A0; A3 = A0; B0 = A0; B1 = A0; B2 = A0; B3 = A0;
                } else {
                    A0 = _mm512_loadu_si512(ap); A1 = _mm512_loadu_si512(ap + 16); A2 = _mm512_loadu_si512(ap + 32);
                    A3 = _mm512_loadu_si512(ap + 48); B0 = _mm512_loadu_si512(ap + 64); B1 = _mm512_loadu_si512(ap + 80);
                    B2 = _mm512_loadu_si512(ap + 96); B3 = _mm512_loadu_si512(ap + 112);
                }
                for (int k = k0; k < k1; k += 4) {
                    int xi;
                    __builtin_memcpy(&xi, q + k, 4);
                    const __m512i x = _mm512_set1_epi32(xi);
                    const unsigned char *r0 = j->codes + rows[k] * stride, *r1 = j->codes + rows[k + 1] * stride;
                    const unsigned char *r2 = j->codes + rows[k + 2] * stride, *r3 = j->codes + rows[k + 3] * stride;
                    // Prefetch (into L2) `pf` bytes further along the same rows, or the next pass's rows once past the
                    // chunk's end (short rows end before the hardware prefetcher has found them).
                    if (pf) {
                        const long f = boff + pf;
                        if (f + bytes <= segEnd) {
                            for (long t = 0; t < bytes; t += 64) {
                                actsparse_prefetch_l2((const char *)r0 + f + t); actsparse_prefetch_l2((const char *)r1 + f + t);
                                actsparse_prefetch_l2((const char *)r2 + f + t); actsparse_prefetch_l2((const char *)r3 + f + t);
                            }
                        } else {
                            const unsigned char *nbase = j->codes + segLo + f - segEnd;
                            for (int i = k - k0; i < k - k0 + 4 && i < nn; i++)
                                for (long t = 0; t < bytes; t += 64) actsparse_prefetch_l2((const char *)nbase + nrows[i] * stride + t);
                        }
                    }
                    r0 += boff; r1 += boff; r2 += boff; r3 += boff;
                    __m512i l0, h0, l1, h1, l2, h2, l3, h3;
                    actsparse_q8_load(r0, codec, m0, m1, &l0, &h0);
                    actsparse_q8_load(r1, codec, m0, m1, &l1, &h1);
                    actsparse_q8_load(r2, codec, m0, m1, &l2, &h2);
                    actsparse_q8_load(r3, codec, m0, m1, &l3, &h3);
                    ACTSPARSE_Q8_STEP(l0, l1, l2, l3, A0, A1, A2, A3)
                    if (!wide || m1) ACTSPARSE_Q8_STEP(h0, h1, h2, h3, B0, B1, B2, B3)
                }
                if (!last) {
                    _mm512_storeu_si512(ap, A0); _mm512_storeu_si512(ap + 16, A1); _mm512_storeu_si512(ap + 32, A2);
                    _mm512_storeu_si512(ap + 48, A3); _mm512_storeu_si512(ap + 64, B0); _mm512_storeu_si512(ap + 80, B1);
                    _mm512_storeu_si512(ap + 96, B2); _mm512_storeu_si512(ap + 112, B3);
                    continue;
                }
                ACTSPARSE_Q8_TRANSPOSE(A0, A1, A2, A3)
                ACTSPARSE_Q8_TRANSPOSE(B0, B1, B2, B3)
                __m512i V[8] = {A0, A1, A2, A3, B0, B1, B2, B3};
                const int w = nb * 32;
                for (int v = 0; v < 8; v++) {
                    // 4/5/6-bit: A_b = columns 32b…+15, B_b = 32b+16…+31; 8-bit: A_L = 16L…+15, B_L = 64+16L…+15
                    int c = wide ? (v < 4 ? 16 * v : 64 + 16 * (v - 4)) : (v < 4 ? 32 * v : 32 * (v - 4) + 16);
                    if (c < w) actsparse_q8_finish(j, go, so, o + c, _mm512_sub_epi32(V[v], zsum), xs, sx, y);
                }
            }
        }
    }
}

/// Prefill GEMM with int8 activations: y[r, lo..<hi] = Σ over all IC of x̂[r, i]·W[i, o] for rows r < m, hi − lo a
/// multiple of 32. x is quantized per row and group: xq [m, ic] int8, xs and xsum [m, ic/G] (scale, Σq). Per tile of
/// 128 columns and group, the group's rows are interleaved once into `panel` (G/4 × 512 bytes, L1) and met by every
/// row of x, two at a time; the float sums stay in the accumulators' lane order in `yacc` ([m, 128] floats) with
/// the scales permuted alike (the lane transpose is its own inverse), and are put in column order once per tile.
void actsparse_q8_gemm_avx512(const actsparse_q8_job *j, int ic, const signed char *xq, const float *xs,
                                          const int *xsum, int m, float *y, int lo, int hi, unsigned char *panel,
                                          float *yacc) {
    const int codec = j->codec, bb = codec == 4 ? 16 : codec == 5 ? 20 : codec == 6 ? 24 : 32;
    const int wide = codec == 8 || codec == -8, G = j->group, ng = ic / G;
    const long stride = j->stride;
    const int zoff = j->offset + (codec == -8 ? 128 : 0);
    for (int o = lo; o < hi; o += 128) {
        const int nb = (hi - o) >= 128 ? 4 : (hi - o) >> 5, w = nb * 32;
        const long boff = (long)(o >> 5) * bb, bytes = (long)nb * bb;
        const __mmask64 m0 = bytes >= 64 ? ~0ULL : (1ULL << bytes) - 1;
        const __mmask64 m1 = bytes <= 64 ? 0 : bytes >= 128 ? ~0ULL : (1ULL << (bytes - 64)) - 1;
        for (long i = 0; i < (long)m * 128; i += 16) _mm512_storeu_ps(yacc + i, _mm512_setzero_ps());
        for (int g = 0; g < ng; g++) {
            // The group's rows, interleaved: step k4 holds 8 vectors (A0…A3, B0…B3 of ACTSPARSE_Q8_STEP).
            const unsigned char *base = j->codes + (long)g * G * stride + boff;
            for (int k4 = 0; k4 < G / 4; k4++) {
                const unsigned char *r = base + (long)(4 * k4) * stride;
                __m512i l0, h0, l1, h1, l2, h2, l3, h3;
                actsparse_q8_load(r, codec, m0, m1, &l0, &h0);
                actsparse_q8_load(r + stride, codec, m0, m1, &l1, &h1);
                actsparse_q8_load(r + 2 * stride, codec, m0, m1, &l2, &h2);
                actsparse_q8_load(r + 3 * stride, codec, m0, m1, &l3, &h3);
                __m512i *pv = (__m512i *)(panel + (long)k4 * 512);
                __m512i p01l = _mm512_unpacklo_epi8(l0, l1), p01h = _mm512_unpackhi_epi8(l0, l1);
                __m512i p23l = _mm512_unpacklo_epi8(l2, l3), p23h = _mm512_unpackhi_epi8(l2, l3);
                _mm512_store_si512(pv + 0, _mm512_unpacklo_epi16(p01l, p23l));
                _mm512_store_si512(pv + 1, _mm512_unpackhi_epi16(p01l, p23l));
                _mm512_store_si512(pv + 2, _mm512_unpacklo_epi16(p01h, p23h));
                _mm512_store_si512(pv + 3, _mm512_unpackhi_epi16(p01h, p23h));
                p01l = _mm512_unpacklo_epi8(h0, h1); p01h = _mm512_unpackhi_epi8(h0, h1);
                p23l = _mm512_unpacklo_epi8(h2, h3); p23h = _mm512_unpackhi_epi8(h2, h3);
                _mm512_store_si512(pv + 4, _mm512_unpacklo_epi16(p01l, p23l));
                _mm512_store_si512(pv + 5, _mm512_unpackhi_epi16(p01l, p23l));
                _mm512_store_si512(pv + 6, _mm512_unpacklo_epi16(p01h, p23h));
                _mm512_store_si512(pv + 7, _mm512_unpackhi_epi16(p01h, p23h));
            }
            // The group's scales and mins in natural order, then permuted like the accumulators.
            const long go = (long)g * j->oc, so = j->superBlock ? (long)g * G / j->superBlock * j->oc : 0;
            __m512 S[8], Mn[8];
            for (int v = 0; v < 8; v++) {
                int c = wide ? (v < 4 ? 16 * v : 64 + 16 * (v - 4)) : (v < 4 ? 32 * v : 32 * (v - 4) + 16);
                actsparse_q8_scales16(j, go, so, o + c, c < w, &S[v], &Mn[v]);
            }
            {
                __m512i t0 = _mm512_castps_si512(S[0]), t1 = _mm512_castps_si512(S[1]), t2 = _mm512_castps_si512(S[2]), t3 = _mm512_castps_si512(S[3]);
                ACTSPARSE_Q8_TRANSPOSE(t0, t1, t2, t3)
                S[0] = _mm512_castsi512_ps(t0); S[1] = _mm512_castsi512_ps(t1); S[2] = _mm512_castsi512_ps(t2); S[3] = _mm512_castsi512_ps(t3);
                t0 = _mm512_castps_si512(S[4]); t1 = _mm512_castps_si512(S[5]); t2 = _mm512_castps_si512(S[6]); t3 = _mm512_castps_si512(S[7]);
                ACTSPARSE_Q8_TRANSPOSE(t0, t1, t2, t3)
                S[4] = _mm512_castsi512_ps(t0); S[5] = _mm512_castsi512_ps(t1); S[6] = _mm512_castsi512_ps(t2); S[7] = _mm512_castsi512_ps(t3);
                t0 = _mm512_castps_si512(Mn[0]); t1 = _mm512_castps_si512(Mn[1]); t2 = _mm512_castps_si512(Mn[2]); t3 = _mm512_castps_si512(Mn[3]);
                ACTSPARSE_Q8_TRANSPOSE(t0, t1, t2, t3)
                Mn[0] = _mm512_castsi512_ps(t0); Mn[1] = _mm512_castsi512_ps(t1); Mn[2] = _mm512_castsi512_ps(t2); Mn[3] = _mm512_castsi512_ps(t3);
                t0 = _mm512_castps_si512(Mn[4]); t1 = _mm512_castps_si512(Mn[5]); t2 = _mm512_castps_si512(Mn[6]); t3 = _mm512_castps_si512(Mn[7]);
                ACTSPARSE_Q8_TRANSPOSE(t0, t1, t2, t3)
                Mn[4] = _mm512_castsi512_ps(t0); Mn[5] = _mm512_castsi512_ps(t1); Mn[6] = _mm512_castsi512_ps(t2); Mn[7] = _mm512_castsi512_ps(t3);
            }
            const int hasMin = j->kind & 1;
            for (int r = 0; r < m; r += 2) {
                const int two = r + 1 < m;
                const signed char *x0 = xq + (long)r * ic + (long)g * G, *x1 = two ? x0 + ic : x0;
                __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
                __m512i c0 = a0, c1 = a0, c2 = a0, c3 = a0, c4 = a0, c5 = a0, c6 = a0, c7 = a0;
                for (int k4 = 0; k4 < G / 4; k4++) {
                    const __m512i *pv = (const __m512i *)(panel + (long)k4 * 512);
                    int i0, i1;
                    __builtin_memcpy(&i0, x0 + 4 * k4, 4);
                    __builtin_memcpy(&i1, x1 + 4 * k4, 4);
                    const __m512i b0 = _mm512_set1_epi32(i0), b1 = _mm512_set1_epi32(i1);
                    __m512i v;
                    v = _mm512_load_si512(pv + 0); a0 = _mm512_dpbusd_epi32(a0, v, b0); c0 = _mm512_dpbusd_epi32(c0, v, b1);
                    v = _mm512_load_si512(pv + 1); a1 = _mm512_dpbusd_epi32(a1, v, b0); c1 = _mm512_dpbusd_epi32(c1, v, b1);
                    v = _mm512_load_si512(pv + 2); a2 = _mm512_dpbusd_epi32(a2, v, b0); c2 = _mm512_dpbusd_epi32(c2, v, b1);
                    v = _mm512_load_si512(pv + 3); a3 = _mm512_dpbusd_epi32(a3, v, b0); c3 = _mm512_dpbusd_epi32(c3, v, b1);
                    v = _mm512_load_si512(pv + 4); a4 = _mm512_dpbusd_epi32(a4, v, b0); c4 = _mm512_dpbusd_epi32(c4, v, b1);
                    v = _mm512_load_si512(pv + 5); a5 = _mm512_dpbusd_epi32(a5, v, b0); c5 = _mm512_dpbusd_epi32(c5, v, b1);
                    v = _mm512_load_si512(pv + 6); a6 = _mm512_dpbusd_epi32(a6, v, b0); c6 = _mm512_dpbusd_epi32(c6, v, b1);
                    v = _mm512_load_si512(pv + 7); a7 = _mm512_dpbusd_epi32(a7, v, b0); c7 = _mm512_dpbusd_epi32(c7, v, b1);
                }
                __m512i A[8] = {a0, a1, a2, a3, a4, a5, a6, a7}, C[8] = {c0, c1, c2, c3, c4, c5, c6, c7};
                for (int h = 0; h < 1 + two; h++) {
                    const int row = r + h;
                    const float xsv = xs[(long)row * ng + g];
                    const int qs = xsum[(long)row * ng + g];
                    const __m512i z = _mm512_set1_epi32(zoff * qs);
                    const __m512 xsb = _mm512_set1_ps(xsv), sxb = _mm512_set1_ps(xsv * (float)qs);
                    float *ya = yacc + (long)row * 128;
                    for (int v = 0; v < 8; v++) {
                        __m512 a = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(h ? C[v] : A[v], z)), xsb);
                        __m512 t = _mm512_fmadd_ps(S[v], a, _mm512_loadu_ps(ya + 16 * v));
                        if (hasMin) t = _mm512_fmadd_ps(Mn[v], sxb, t);
                        _mm512_storeu_ps(ya + 16 * v, t);
                    }
                }
            }
        }
        // Column order, into y.
        for (int r = 0; r < m; r++) {
            float *ya = yacc + (long)r * 128;
            __m512i t0 = _mm512_castps_si512(_mm512_loadu_ps(ya)), t1 = _mm512_castps_si512(_mm512_loadu_ps(ya + 16));
            __m512i t2 = _mm512_castps_si512(_mm512_loadu_ps(ya + 32)), t3 = _mm512_castps_si512(_mm512_loadu_ps(ya + 48));
            __m512i u0 = _mm512_castps_si512(_mm512_loadu_ps(ya + 64)), u1 = _mm512_castps_si512(_mm512_loadu_ps(ya + 80));
            __m512i u2 = _mm512_castps_si512(_mm512_loadu_ps(ya + 96)), u3 = _mm512_castps_si512(_mm512_loadu_ps(ya + 112));
            ACTSPARSE_Q8_TRANSPOSE(t0, t1, t2, t3)
            ACTSPARSE_Q8_TRANSPOSE(u0, u1, u2, u3)
            __m512i V[8] = {t0, t1, t2, t3, u0, u1, u2, u3};
            for (int v = 0; v < 8; v++) {
                int c = wide ? (v < 4 ? 16 * v : 64 + 16 * (v - 4)) : (v < 4 ? 32 * v : 32 * (v - 4) + 16);
                if (c < w) _mm512_storeu_ps(y + (long)r * j->oc + o + c, _mm512_castsi512_ps(V[v]));
            }
        }
    }
}

#pragma clang attribute pop
#endif
