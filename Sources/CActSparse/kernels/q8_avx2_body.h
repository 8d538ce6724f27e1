// The int8 GEMV and prefill GEMM on 256-bit registers, the AVX-512 kernel's scheme (q8_avx512.c) at half width:
// four kept rows interleaved by byte unpacks meet four int8 activations per i32 lane. Included by q8_avx2.c
// (Q8A_VNNI 0: vpmaddubsw + vpmaddwd, llama.cpp's AVX2 recipe) and q8_avxvnni.c (Q8A_VNNI 1: one vpdpbusd) under
// their target attribute; Q8A(name) names the entry points. Tiles are 64 columns: two 32-column blocks of 4-6 bit
// codes (lane b = block b) or 64 bytes of 8-bit codes (lane L of vector h = columns 32h + 16L …).

#define Q8A_CAT_(a, b) a##_##b
#define Q8A_CAT(a, b) Q8A_CAT_(a, b)
#define Q8A(name) Q8A_CAT(name, Q8A_SUFFIX)
#define Q8A_INLINE static inline __attribute__((always_inline))

/// acc += four u8 × s8 products per i32 lane. vpmaddubsw saturates pairs at ±32767: 4-6 bit codes (≤ 63 · 127 · 2)
/// never reach it; 8-bit codes run as signed values w (|w| ≤ 128) with the sign moved onto x (llama.cpp's q8_0).
Q8A_INLINE __m256i Q8A(q8a_dot)(__m256i acc, __m256i w, __m256i x, const int wide) {
#if Q8A_VNNI
    (void)wide;
    return _mm256_dpbusd_avx_epi32(acc, w, x);
#else
    if (wide) { x = _mm256_sign_epi8(x, w); w = _mm256_abs_epi8(w); }
    return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(w, x), _mm256_set1_epi16(1)));
#endif
}

/// What the integer sums carry on top of Σ q·(code − offset), per unit of Σq: 8-bit codes enter vpdpbusd as u8
/// (i8 codes + 128) and vpmaddubsw as i8 (u8 codes − 128).
Q8A_INLINE int Q8A(q8a_zoff)(const actsparse_q8_job *j, const int codec) {
#if Q8A_VNNI
    return j->offset + (codec == -8 ? 128 : 0);
#else
    return j->offset - (codec == 8 ? 128 : 0);
#endif
}

/// Row r's two byte vectors at a tile (nb = 1 or 2 blocks of 32 columns): 4/5/6-bit → lane b = block b's columns
/// 0…15 (lo) and 16…31 (hi); 8-bit → columns 0…31 (lo) and 32…63 (hi), 16 per lane.
Q8A_INLINE void Q8A(q8a_load)(const unsigned char *r, const int codec, int nb, __m256i *lo, __m256i *hi) {
    const int bb = codec == 4 ? 16 : codec == 5 ? 20 : codec == 6 ? 24 : 32;
    if (codec == 8 || codec == -8) {
        __m256i a = _mm256_loadu_si256((const __m256i *)r);
        __m256i b = nb == 2 ? _mm256_loadu_si256((const __m256i *)(r + 32)) : _mm256_setzero_si256();
#if Q8A_VNNI
        const int flip = codec == -8;
#else
        const int flip = codec == 8;
#endif
        if (flip) {
            const __m256i s = _mm256_set1_epi8((char)0x80);
            a = _mm256_xor_si256(a, s); b = _mm256_xor_si256(b, s);
        }
        *lo = a; *hi = b;
        return;
    }
    const __m128i n0 = _mm_loadu_si128((const __m128i *)r);
    const __m128i n1 = nb == 2 ? _mm_loadu_si128((const __m128i *)(r + bb)) : _mm_setzero_si128();
    const __m256i nib = _mm256_set_m128i(n1, n0), m4 = _mm256_set1_epi8(15);
    __m256i l = _mm256_and_si256(nib, m4), h = _mm256_and_si256(_mm256_srli_epi16(nib, 4), m4);
    // Plane word p of block b, repeated over lane b's dwords: byte k of the lane is then the word's byte k mod 4,
    // which holds column k's bit k/4 (columns 16…31: bit k/4 + 4; RowCodec.swift's planeBit).
    const __m256i selLo = _mm256_setr_epi8(1, 1, 1, 1, 2, 2, 2, 2, 4, 4, 4, 4, 8, 8, 8, 8,
                                           1, 1, 1, 1, 2, 2, 2, 2, 4, 4, 4, 4, 8, 8, 8, 8);
    const __m256i selHi = _mm256_slli_epi16(selLo, 4);
    for (int p = 0; p < codec - 4; p++) {
        int w0, w1 = 0;
        __builtin_memcpy(&w0, r + 16 + 4 * p, 4);
        if (nb == 2) __builtin_memcpy(&w1, r + bb + 16 + 4 * p, 4);
        const __m256i w = _mm256_setr_epi32(w0, w0, w0, w0, w1, w1, w1, w1), bit = _mm256_set1_epi8((char)(16 << p));
        l = _mm256_or_si256(l, _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(w, selLo), selLo), bit));
        h = _mm256_or_si256(h, _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(w, selHi), selHi), bit));
    }
    *lo = l; *hi = h;
}

/// Four rows' byte vectors a0…a3 (the same columns) meet the activations x: lane L, dword j of Q_s sums the
/// products of the lane's column byte 4s + j.
#define Q8A_STEP(a0, a1, a2, a3, Q0, Q1, Q2, Q3, wide)                                                            \
    {                                                                                                              \
        __m256i p01l = _mm256_unpacklo_epi8(a0, a1), p01h = _mm256_unpackhi_epi8(a0, a1);                          \
        __m256i p23l = _mm256_unpacklo_epi8(a2, a3), p23h = _mm256_unpackhi_epi8(a2, a3);                          \
        Q0 = Q8A(q8a_dot)(Q0, _mm256_unpacklo_epi16(p01l, p23l), x, wide);                                         \
        Q1 = Q8A(q8a_dot)(Q1, _mm256_unpackhi_epi16(p01l, p23l), x, wide);                                         \
        Q2 = Q8A(q8a_dot)(Q2, _mm256_unpacklo_epi16(p01h, p23h), x, wide);                                         \
        Q3 = Q8A(q8a_dot)(Q3, _mm256_unpackhi_epi16(p01h, p23h), x, wide);                                         \
    }

/// Q_s (lane L, dword j = byte 4s + j) → column order: vector i = lane i/2, bytes 8·(i mod 2) … + 7.
#define Q8A_TO_COLUMNS(Q0, Q1, Q2, Q3)                                                                              \
    {                                                                                                              \
        __m256i t0_ = _mm256_permute2x128_si256(Q0, Q1, 0x20), t1_ = _mm256_permute2x128_si256(Q2, Q3, 0x20);     \
        __m256i t2_ = _mm256_permute2x128_si256(Q0, Q1, 0x31), t3_ = _mm256_permute2x128_si256(Q2, Q3, 0x31);     \
        Q0 = t0_; Q1 = t1_; Q2 = t2_; Q3 = t3_;                                                                    \
    }
/// The inverse: column order → the accumulators' lane order.
#define Q8A_TO_LANES(T0, T1, T2, T3)                                                                                \
    {                                                                                                              \
        __m256i q0_ = _mm256_permute2x128_si256(T0, T2, 0x20), q1_ = _mm256_permute2x128_si256(T0, T2, 0x31);     \
        __m256i q2_ = _mm256_permute2x128_si256(T1, T3, 0x20), q3_ = _mm256_permute2x128_si256(T1, T3, 0x31);     \
        T0 = q0_; T1 = q1_; T2 = q2_; T3 = q3_;                                                                    \
    }

/// First column (within the tile) of column-order vector v: 0…3 from the lo vectors, 4…7 from the hi ones.
Q8A_INLINE int Q8A(q8a_col)(int wide, int v) {
    const int i = v & 3, L = i >> 1, m0 = 8 * (i & 1), half = v >> 2;
    return wide ? 32 * half + 16 * L + m0 : 32 * L + 16 * half + m0;
}

/// The 8 scales s (d, or D·sc) and min terms (m, −Dmin·mn; kinds 1/3) of columns o…o+7 in group g (zeros when
/// !valid: columns past the tile).
Q8A_INLINE void Q8A(q8a_scales8)(const actsparse_q8_job *j, long go, long so, int o, int valid, __m256 *s, __m256 *mn) {
    *s = _mm256_setzero_ps(); *mn = _mm256_setzero_ps();
    if (!valid) return;
    if (j->kind < 2) {
        *s = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(j->d16 + go + o)));
        if (j->kind == 1) *mn = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(j->m16 + go + o)));
        return;
    }
    const __m128i b = _mm_loadl_epi64((const __m128i *)(j->sc + go + o));
    const __m256 sub = _mm256_cvtepi32_ps(j->signedSub ? _mm256_cvtepi8_epi32(b) : _mm256_cvtepu8_epi32(b));
    *s = _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(j->d16 + so + o))), sub);
    if (j->kind == 3) {
        const __m256 n = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(j->mn + go + o))));
        const __m256 m = _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(j->m16 + so + o))), n);
        *mn = _mm256_xor_ps(m, _mm256_set1_ps(-0.0f));
    }
}

/// y[o..<o+8] += s·(xs·v), then with a min y += min·Σx̂ (the scalar twin's operations: the same bits).
Q8A_INLINE void Q8A(q8a_finish)(const actsparse_q8_job *j, long go, long so, int o, __m256i v, float xs, float sx,
                                float *y) {
    __m256 s, mn, yy = _mm256_loadu_ps(y + o);
    Q8A(q8a_scales8)(j, go, so, o, 1, &s, &mn);
    yy = _mm256_fmadd_ps(s, _mm256_mul_ps(_mm256_cvtepi32_ps(v), _mm256_set1_ps(xs)), yy);
    if (j->kind & 1) yy = _mm256_fmadd_ps(mn, _mm256_set1_ps(sx), yy);
    _mm256_storeu_ps(y + o, yy);
}

/// The GEMV for one codec (a constant after inlining): the AVX-512 kernel's passes, prefetches and carried sums
/// (q8_avx512.c) over tiles of 64 columns.
Q8A_INLINE void Q8A(q8a_gemv)(const actsparse_q8_job *j, float *y, int lo, int hi, int *acc, const int codec) {
    const int bb = codec == 4 ? 16 : codec == 5 ? 20 : codec == 6 ? 24 : 32;
    const int wide = codec == 8 || codec == -8, P = j->passRows, zoff = Q8A(q8a_zoff)(j, codec);
    const long stride = j->stride, pf = j->prefetch;
    const long segEnd = (long)(hi >> 5) * bb, segLo = (long)(lo >> 5) * bb;
    for (int gi = 0; gi < j->ngroups; gi++) {
        const int g = j->gid[gi], n = j->glen[gi];
        const int *rows = j->rows + j->gstart[gi];
        const signed char *q = j->q + j->gstart[gi];
        const float xs = j->gxs[gi], sx = j->gsx[gi];
        const __m256i zsum = _mm256_set1_epi32(zoff * j->gsum[gi]);
        const long go = (long)g * j->oc, so = j->superBlock ? (long)g * j->group / j->superBlock * j->oc : 0;
        for (int k0 = 0; k0 < n; k0 += P) {
            const int k1 = k0 + P < n ? k0 + P : n, first = k0 == 0, last = k1 == n;
            const int *nrows = !last ? rows + k1 : gi + 1 < j->ngroups ? j->rows + j->gstart[gi + 1] : 0;
            int nn = !last ? n - k1 : gi + 1 < j->ngroups ? j->glen[gi + 1] : 0;
            nn = nn < P ? nn : P;
            for (int o = lo; o < hi; o += 64) {
                const int nb = (hi - o) >= 64 ? 2 : 1;
                const long boff = (long)(o >> 5) * bb, bytes = (long)nb * bb;
                int *ap = acc + (o - lo);
                __m256i A0, A1, A2, A3, B0, B1, B2, B3;
                if (first) {
                    A0 = _mm256_setzero_si256(); A1 = A0; A2 = A0; A3 = A0; B0 = A0; B1 = A0; B2 = A0; B3 = A0;
                } else {
                    A0 = _mm256_loadu_si256((const __m256i *)ap); A1 = _mm256_loadu_si256((const __m256i *)(ap + 8));
                    A2 = _mm256_loadu_si256((const __m256i *)(ap + 16)); A3 = _mm256_loadu_si256((const __m256i *)(ap + 24));
                    B0 = _mm256_loadu_si256((const __m256i *)(ap + 32)); B1 = _mm256_loadu_si256((const __m256i *)(ap + 40));
                    B2 = _mm256_loadu_si256((const __m256i *)(ap + 48)); B3 = _mm256_loadu_si256((const __m256i *)(ap + 56));
                }
                for (int k = k0; k < k1; k += 4) {
                    int xi;
                    __builtin_memcpy(&xi, q + k, 4);
                    const __m256i x = _mm256_set1_epi32(xi);
                    const unsigned char *r0 = j->codes + rows[k] * stride, *r1 = j->codes + rows[k + 1] * stride;
                    const unsigned char *r2 = j->codes + rows[k + 2] * stride, *r3 = j->codes + rows[k + 3] * stride;
                    // Prefetch (into L2) `pf` bytes further along the same rows, once per cache line, or the next
                    // pass's rows once past the chunk's end.
                    const long a = boff + pf, f = (a + 63) & ~63L;
                    if (pf && f < a + bytes) {
                        if (f < segEnd) {
                            actsparse_prefetch_l2((const char *)r0 + f); actsparse_prefetch_l2((const char *)r1 + f);
                            actsparse_prefetch_l2((const char *)r2 + f); actsparse_prefetch_l2((const char *)r3 + f);
                        } else {
                            const unsigned char *nbase = j->codes + segLo + f - segEnd;
                            for (int i = k - k0; i < k - k0 + 4 && i < nn; i++)
                                actsparse_prefetch_l2((const char *)nbase + nrows[i] * stride);
                        }
                    }
                    r0 += boff; r1 += boff; r2 += boff; r3 += boff;
                    __m256i l0, h0, l1, h1, l2, h2, l3, h3;
                    Q8A(q8a_load)(r0, codec, nb, &l0, &h0);
                    Q8A(q8a_load)(r1, codec, nb, &l1, &h1);
                    Q8A(q8a_load)(r2, codec, nb, &l2, &h2);
                    Q8A(q8a_load)(r3, codec, nb, &l3, &h3);
                    Q8A_STEP(l0, l1, l2, l3, A0, A1, A2, A3, wide)
                    if (!wide || nb == 2) Q8A_STEP(h0, h1, h2, h3, B0, B1, B2, B3, wide)
                }
                if (!last) {
                    _mm256_storeu_si256((__m256i *)ap, A0); _mm256_storeu_si256((__m256i *)(ap + 8), A1);
                    _mm256_storeu_si256((__m256i *)(ap + 16), A2); _mm256_storeu_si256((__m256i *)(ap + 24), A3);
                    _mm256_storeu_si256((__m256i *)(ap + 32), B0); _mm256_storeu_si256((__m256i *)(ap + 40), B1);
                    _mm256_storeu_si256((__m256i *)(ap + 48), B2); _mm256_storeu_si256((__m256i *)(ap + 56), B3);
                    continue;
                }
                Q8A_TO_COLUMNS(A0, A1, A2, A3)
                Q8A_TO_COLUMNS(B0, B1, B2, B3)
                const __m256i V[8] = {A0, A1, A2, A3, B0, B1, B2, B3};
                const int w = nb * 32;
                for (int v = 0; v < 8; v++) {
                    const int c = Q8A(q8a_col)(wide, v);
                    if (c < w) Q8A(q8a_finish)(j, go, so, o + c, _mm256_sub_epi32(V[v], zsum), xs, sx, y);
                }
            }
        }
    }
}

void Q8A(actsparse_q8_gemv)(const actsparse_q8_job *j, float *y, int lo, int hi, int *acc) {
    switch (j->codec) {
    case 4: Q8A(q8a_gemv)(j, y, lo, hi, acc, 4); break;
    case 5: Q8A(q8a_gemv)(j, y, lo, hi, acc, 5); break;
    case 6: Q8A(q8a_gemv)(j, y, lo, hi, acc, 6); break;
    case 8: Q8A(q8a_gemv)(j, y, lo, hi, acc, 8); break;
    case -8: Q8A(q8a_gemv)(j, y, lo, hi, acc, -8); break;
    default: actsparse_q8_gemv_scalar(j, y, lo, hi); break;
    }
}

/// Prefill GEMM for one codec: per 64-column tile and group, the group's rows interleaved once into `panel` (G/4 ×
/// 256 bytes, L1), met by every prompt row; float sums in `yacc` ([m, 64], the accumulators' lane order, scales
/// permuted alike) and put in column order once per tile.
Q8A_INLINE void Q8A(q8a_gemm)(const actsparse_q8_job *j, int ic, const signed char *xq, const float *xs, const int *xsum,
                              int m, float *y, int lo, int hi, unsigned char *panel, float *yacc, const int codec) {
    const int bb = codec == 4 ? 16 : codec == 5 ? 20 : codec == 6 ? 24 : 32;
    const int wide = codec == 8 || codec == -8, G = j->group, ng = ic / G, zoff = Q8A(q8a_zoff)(j, codec);
    const long stride = j->stride;
    const int hasMin = j->kind & 1;
    for (int o = lo; o < hi; o += 64) {
        const int nb = (hi - o) >= 64 ? 2 : 1, w = nb * 32;
        const long boff = (long)(o >> 5) * bb;
        for (long i = 0; i < (long)m * 64; i += 8) _mm256_storeu_ps(yacc + i, _mm256_setzero_ps());
        for (int g = 0; g < ng; g++) {
            const unsigned char *base = j->codes + (long)g * G * stride + boff;
            for (int k4 = 0; k4 < G / 4; k4++) {
                const unsigned char *r = base + (long)(4 * k4) * stride;
                __m256i l0, h0, l1, h1, l2, h2, l3, h3;
                Q8A(q8a_load)(r, codec, nb, &l0, &h0);
                Q8A(q8a_load)(r + stride, codec, nb, &l1, &h1);
                Q8A(q8a_load)(r + 2 * stride, codec, nb, &l2, &h2);
                Q8A(q8a_load)(r + 3 * stride, codec, nb, &l3, &h3);
                __m256i *pv = (__m256i *)(panel + (long)k4 * 256);
                __m256i p01l = _mm256_unpacklo_epi8(l0, l1), p01h = _mm256_unpackhi_epi8(l0, l1);
                __m256i p23l = _mm256_unpacklo_epi8(l2, l3), p23h = _mm256_unpackhi_epi8(l2, l3);
                _mm256_store_si256(pv + 0, _mm256_unpacklo_epi16(p01l, p23l));
                _mm256_store_si256(pv + 1, _mm256_unpackhi_epi16(p01l, p23l));
                _mm256_store_si256(pv + 2, _mm256_unpacklo_epi16(p01h, p23h));
                _mm256_store_si256(pv + 3, _mm256_unpackhi_epi16(p01h, p23h));
                p01l = _mm256_unpacklo_epi8(h0, h1); p01h = _mm256_unpackhi_epi8(h0, h1);
                p23l = _mm256_unpacklo_epi8(h2, h3); p23h = _mm256_unpackhi_epi8(h2, h3);
                _mm256_store_si256(pv + 4, _mm256_unpacklo_epi16(p01l, p23l));
                _mm256_store_si256(pv + 5, _mm256_unpackhi_epi16(p01l, p23l));
                _mm256_store_si256(pv + 6, _mm256_unpacklo_epi16(p01h, p23h));
                _mm256_store_si256(pv + 7, _mm256_unpackhi_epi16(p01h, p23h));
            }
            // The group's scales and mins in column order, then permuted like the accumulators.
            const long go = (long)g * j->oc, so = j->superBlock ? (long)g * G / j->superBlock * j->oc : 0;
            __m256 S[8], Mn[8];
            for (int v = 0; v < 8; v++) {
                const int c = Q8A(q8a_col)(wide, v);
                Q8A(q8a_scales8)(j, go, so, o + c, c < w, &S[v], &Mn[v]);
            }
            __m256i t[8];
            for (int v = 0; v < 8; v++) t[v] = _mm256_castps_si256(S[v]);
            Q8A_TO_LANES(t[0], t[1], t[2], t[3]) Q8A_TO_LANES(t[4], t[5], t[6], t[7])
            for (int v = 0; v < 8; v++) { S[v] = _mm256_castsi256_ps(t[v]); t[v] = _mm256_castps_si256(Mn[v]); }
            Q8A_TO_LANES(t[0], t[1], t[2], t[3]) Q8A_TO_LANES(t[4], t[5], t[6], t[7])
            for (int v = 0; v < 8; v++) Mn[v] = _mm256_castsi256_ps(t[v]);
            for (int r = 0; r < m; r++) {
                const signed char *x0 = xq + (long)r * ic + (long)g * G;
                __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
                for (int k4 = 0; k4 < G / 4; k4++) {
                    const __m256i *pv = (const __m256i *)(panel + (long)k4 * 256);
                    int i0;
                    __builtin_memcpy(&i0, x0 + 4 * k4, 4);
                    const __m256i x = _mm256_set1_epi32(i0);
                    a0 = Q8A(q8a_dot)(a0, _mm256_load_si256(pv + 0), x, wide);
                    a1 = Q8A(q8a_dot)(a1, _mm256_load_si256(pv + 1), x, wide);
                    a2 = Q8A(q8a_dot)(a2, _mm256_load_si256(pv + 2), x, wide);
                    a3 = Q8A(q8a_dot)(a3, _mm256_load_si256(pv + 3), x, wide);
                    a4 = Q8A(q8a_dot)(a4, _mm256_load_si256(pv + 4), x, wide);
                    a5 = Q8A(q8a_dot)(a5, _mm256_load_si256(pv + 5), x, wide);
                    a6 = Q8A(q8a_dot)(a6, _mm256_load_si256(pv + 6), x, wide);
                    a7 = Q8A(q8a_dot)(a7, _mm256_load_si256(pv + 7), x, wide);
                }
                const __m256i A[8] = {a0, a1, a2, a3, a4, a5, a6, a7};
                const float xsv = xs[(long)r * ng + g];
                const int qs = xsum[(long)r * ng + g];
                const __m256i z = _mm256_set1_epi32(zoff * qs);
                const __m256 xsb = _mm256_set1_ps(xsv), sxb = _mm256_set1_ps(xsv * (float)qs);
                float *ya = yacc + (long)r * 64;
                for (int v = 0; v < 8; v++) {
                    __m256 a = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(A[v], z)), xsb);
                    __m256 tt = _mm256_fmadd_ps(S[v], a, _mm256_loadu_ps(ya + 8 * v));
                    if (hasMin) tt = _mm256_fmadd_ps(Mn[v], sxb, tt);
                    _mm256_storeu_ps(ya + 8 * v, tt);
                }
            }
        }
        for (int r = 0; r < m; r++) {  // column order, into y
            const float *ya = yacc + (long)r * 64;
            __m256i t[8];
            for (int v = 0; v < 8; v++) t[v] = _mm256_castps_si256(_mm256_loadu_ps(ya + 8 * v));
            Q8A_TO_COLUMNS(t[0], t[1], t[2], t[3]) Q8A_TO_COLUMNS(t[4], t[5], t[6], t[7])
            for (int v = 0; v < 8; v++) {
                const int c = Q8A(q8a_col)(wide, v);
                if (c < w) _mm256_storeu_ps(y + (long)r * j->oc + o + c, _mm256_castsi256_ps(t[v]));
            }
        }
    }
}

void Q8A(actsparse_q8_gemm)(const actsparse_q8_job *j, int ic, const signed char *xq, const float *xs, const int *xsum,
                            int m, float *y, int lo, int hi, unsigned char *panel, float *yacc) {
    switch (j->codec) {
    case 4: Q8A(q8a_gemm)(j, ic, xq, xs, xsum, m, y, lo, hi, panel, yacc, 4); break;
    case 5: Q8A(q8a_gemm)(j, ic, xq, xs, xsum, m, y, lo, hi, panel, yacc, 5); break;
    case 6: Q8A(q8a_gemm)(j, ic, xq, xs, xsum, m, y, lo, hi, panel, yacc, 6); break;
    case 8: Q8A(q8a_gemm)(j, ic, xq, xs, xsum, m, y, lo, hi, panel, yacc, 8); break;
    case -8: Q8A(q8a_gemm)(j, ic, xq, xs, xsum, m, y, lo, hi, panel, yacc, -8); break;
    default: actsparse_q8_gemm_scalar(j, ic, xq, xs, xsum, m, y, lo, hi); break;
    }
}
