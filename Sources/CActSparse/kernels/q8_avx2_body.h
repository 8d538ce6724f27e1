// The int8 GEMV and prefill GEMM on 256-bit registers, the AVX-512 kernel's scheme (q8_avx512.c) with one 32-column
// block per register: four kept rows interleaved by byte unpacks meet four int8 activations per i32 lane. Included
// by q8_avx2.c (Q8A_VNNI 0: vpmaddubsw + vpmaddwd, llama.cpp's AVX2 recipe) and q8_avxvnni.c (Q8A_VNNI 1: one
// vpdpbusd) under their target attribute; Q8A(name) names the entry points. A block's register: lane 0 holds
// columns 0…15, lane 1 columns 16…31 (4-6 bit codes: the low and the high nibbles of the block's 16 bytes). One block
// per register keeps 4 accumulators and 4 rows live: AVX2 has 16 registers, and 64-column tiles spilled.

#define Q8A_CAT_(a, b) a##_##b
#define Q8A_CAT(a, b) Q8A_CAT_(a, b)
#define Q8A(name) Q8A_CAT(name, Q8A_SUFFIX)
#define Q8A_INLINE static inline __attribute__((always_inline))
/// Rows per pass at most (the row pointers of a pass are computed once).
#define Q8A_MAX_PASS 64

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

/// vpmaddubsw alone: pairs of products as i16 (no saturation for 4-6 bit codes, see q8a_dot), to be summed over
/// several steps before one vpmaddwd widens them: Q8A_I16_STEPS(codec) steps keep |Σ| ≤ 32767 (4-bit: 8 steps of
/// ≤ 3810; 5-bit: 4 of ≤ 7874; 6-bit: 2 of ≤ 16002; 8-bit: 1). Halves the multiply port's work per product.
#define Q8A_I16_STEPS(codec) ((codec) == 4 ? 8 : (codec) == 5 ? 4 : (codec) == 6 ? 2 : 1)
Q8A_INLINE __m256i Q8A(q8a_dot16)(__m256i acc, __m256i w, __m256i x, const int wide) {
    if (wide) { x = _mm256_sign_epi8(x, w); w = _mm256_abs_epi8(w); }
    return _mm256_add_epi16(acc, _mm256_maddubs_epi16(w, x));
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

/// The 32 codes of the block at r as bytes, columns 0…15 in lane 0 and 16…31 in lane 1.
Q8A_INLINE __m256i Q8A(q8a_load)(const unsigned char *r, const int codec) {
    if (codec == 8 || codec == -8) {
        __m256i a = _mm256_loadu_si256((const __m256i *)r);
#if Q8A_VNNI
        if (codec == -8) a = _mm256_xor_si256(a, _mm256_set1_epi8((char)0x80));
#else
        if (codec == 8) a = _mm256_xor_si256(a, _mm256_set1_epi8((char)0x80));
#endif
        return a;
    }
    // The 16 nibble bytes in both lanes: low nibbles in lane 0, high ones in lane 1.
    const __m256i nib = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)r));
    __m256i v = _mm256_and_si256(_mm256_srlv_epi32(nib, _mm256_setr_epi32(0, 0, 0, 0, 4, 4, 4, 4)), _mm256_set1_epi8(15));
    // Plane word p repeated over the lanes: byte k of a lane is the word's byte k mod 4, which holds column k's bit
    // k/4 (lane 1, columns 16…31: bit k/4 + 4; RowCodec.swift's planeBit).
    const __m256i sel = _mm256_setr_epi8(1, 1, 1, 1, 2, 2, 2, 2, 4, 4, 4, 4, 8, 8, 8, 8, 16, 16, 16, 16, 32, 32, 32, 32,
                                         64, 64, 64, 64, (char)128, (char)128, (char)128, (char)128);
    for (int p = 0; p < codec - 4; p++) {
        int word;
        __builtin_memcpy(&word, r + 16 + 4 * p, 4);
        const __m256i w = _mm256_set1_epi32(word);
        v = _mm256_or_si256(v, _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(w, sel), sel),
                                                _mm256_set1_epi8((char)(16 << p))));
    }
    return v;
}

/// Four rows' blocks a0…a3 meet the activations x: lane L, dword j of Q_s sums the products of column 16L + 4s + j.
#define Q8A_STEP(a0, a1, a2, a3, Q0, Q1, Q2, Q3, wide)                                                            \
    {                                                                                                              \
        __m256i p01l = _mm256_unpacklo_epi8(a0, a1), p23l = _mm256_unpacklo_epi8(a2, a3);                          \
        Q0 = Q8A(q8a_dot)(Q0, _mm256_unpacklo_epi16(p01l, p23l), x, wide);                                         \
        Q1 = Q8A(q8a_dot)(Q1, _mm256_unpackhi_epi16(p01l, p23l), x, wide);                                         \
        __m256i p01h = _mm256_unpackhi_epi8(a0, a1), p23h = _mm256_unpackhi_epi8(a2, a3);                          \
        Q2 = Q8A(q8a_dot)(Q2, _mm256_unpacklo_epi16(p01h, p23h), x, wide);                                         \
        Q3 = Q8A(q8a_dot)(Q3, _mm256_unpackhi_epi16(p01h, p23h), x, wide);                                         \
    }

/// Q8A_STEP with i16 sums (vpmaddubsw only): H_s as Q_s, pairs of rows per i16 lane.
#define Q8A_STEP16(a0, a1, a2, a3, H0, H1, H2, H3, wide)                                                          \
    {                                                                                                              \
        __m256i p01l = _mm256_unpacklo_epi8(a0, a1), p23l = _mm256_unpacklo_epi8(a2, a3);                          \
        H0 = Q8A(q8a_dot16)(H0, _mm256_unpacklo_epi16(p01l, p23l), x, wide);                                       \
        H1 = Q8A(q8a_dot16)(H1, _mm256_unpackhi_epi16(p01l, p23l), x, wide);                                       \
        __m256i p01h = _mm256_unpackhi_epi8(a0, a1), p23h = _mm256_unpackhi_epi8(a2, a3);                          \
        H2 = Q8A(q8a_dot16)(H2, _mm256_unpacklo_epi16(p01h, p23h), x, wide);                                       \
        H3 = Q8A(q8a_dot16)(H3, _mm256_unpackhi_epi16(p01h, p23h), x, wide);                                       \
    }

/// Q_s (lane L, dword j = column 16L + 4s + j) → column order: vector i = columns 8i … 8i + 7.
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

/// The 8 scales s (d, or D·sc) and min terms (m, −Dmin·mn; kinds 1/3) of columns o…o+7 in group g.
Q8A_INLINE void Q8A(q8a_scales8)(const actsparse_q8_job *j, long go, long so, int o, __m256 *s, __m256 *mn) {
    *mn = _mm256_setzero_ps();
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
    Q8A(q8a_scales8)(j, go, so, o, &s, &mn);
    yy = _mm256_fmadd_ps(s, _mm256_mul_ps(_mm256_cvtepi32_ps(v), _mm256_set1_ps(xs)), yy);
    if (j->kind & 1) yy = _mm256_fmadd_ps(mn, _mm256_set1_ps(sx), yy);
    _mm256_storeu_ps(y + o, yy);
}

/// One tile of NB blocks (1 or 2; a constant after inlining) over rows k0..<k1 of a pass: the integer sums carry in
/// `ap` between passes; the last pass applies the group's epilogue to y.
Q8A_INLINE void Q8A(q8a_tile)(const actsparse_q8_job *j, const unsigned char *const *rp, const signed char *q, int k0,
                              int k1, int o, int *ap, int first, int last, const int *nrows, int nn, long segLo,
                              long segEnd, long go, long so, __m256i zsum, float xs, float sx, float *y, const int codec,
                              const int NB) {
    const int bb = codec == 4 ? 16 : codec == 5 ? 20 : codec == 6 ? 24 : 32, wide = codec == 8 || codec == -8;
    const long stride = j->stride, pf = j->prefetch, boff = (long)(o >> 5) * bb;
    __m256i A[8];
    for (int i = 0; i < 4 * NB; i++)
        A[i] = first ? _mm256_setzero_si256() : _mm256_loadu_si256((const __m256i *)(ap + 8 * i));
    // Prefetch (into L2) `pf` bytes further along the pass's rows, once per cache line, or the next pass's rows
    // once past the chunk's end (short rows end before the hardware prefetcher finds them).
    const long a = boff + pf, f = (a + 63) & ~63L;
    const int fetch = pf && f < a + NB * bb;
    // AVX-VNNI: vpdpbusd sums straight into the i32 sums over the whole pass. AVX2: i16 sums over up to
    // Q8A_I16_STEPS steps, widened into the i32 sums once per run of steps.
    for (int k = k0; k < k1;) {
#if Q8A_VNNI
        const int kend = k1;
        __m256i *H = A;
#else
        const int kend = k + 4 * Q8A_I16_STEPS(codec) < k1 ? k + 4 * Q8A_I16_STEPS(codec) : k1;
        __m256i H[8];
        for (int i = 0; i < 4 * NB; i++) H[i] = _mm256_setzero_si256();
#endif
        for (; k < kend; k += 4) {
            int xi;
            __builtin_memcpy(&xi, q + k, 4);
            const __m256i x = _mm256_set1_epi32(xi);
            const unsigned char *const *r = rp + (k - k0);
            if (fetch) {
                if (f < segEnd) {
                    for (int i = 0; i < 4; i++) actsparse_prefetch_l2((const char *)r[i] + f);
                } else {
                    const unsigned char *nbase = j->codes + segLo + f - segEnd;
                    for (int i = k - k0; i < k - k0 + 4 && i < nn; i++)
                        actsparse_prefetch_l2((const char *)nbase + nrows[i] * stride);
                }
            }
            for (int b = 0; b < NB; b++) {
                const long off = boff + b * bb;
                const __m256i a0 = Q8A(q8a_load)(r[0] + off, codec), a1 = Q8A(q8a_load)(r[1] + off, codec);
                const __m256i a2 = Q8A(q8a_load)(r[2] + off, codec), a3 = Q8A(q8a_load)(r[3] + off, codec);
#if Q8A_VNNI
                Q8A_STEP(a0, a1, a2, a3, H[4 * b], H[4 * b + 1], H[4 * b + 2], H[4 * b + 3], wide)
#else
                Q8A_STEP16(a0, a1, a2, a3, H[4 * b], H[4 * b + 1], H[4 * b + 2], H[4 * b + 3], wide)
#endif
            }
        }
#if !Q8A_VNNI
        for (int i = 0; i < 4 * NB; i++) A[i] = _mm256_add_epi32(A[i], _mm256_madd_epi16(H[i], _mm256_set1_epi16(1)));
#endif
    }
    if (!last) {
        for (int i = 0; i < 4 * NB; i++) _mm256_storeu_si256((__m256i *)(ap + 8 * i), A[i]);
        return;
    }
    for (int b = 0; b < NB; b++) {
        Q8A_TO_COLUMNS(A[4 * b], A[4 * b + 1], A[4 * b + 2], A[4 * b + 3])
        for (int i = 0; i < 4; i++)
            Q8A(q8a_finish)(j, go, so, o + 32 * b + 8 * i, _mm256_sub_epi32(A[4 * b + i], zsum), xs, sx, y);
    }
}

/// The GEMV for one codec (a constant after inlining): the AVX-512 kernel's passes of `passRows` rows over the
/// chunk's columns, prefetches and carried sums (q8_avx512.c), over tiles of one 32-column block.
Q8A_INLINE void Q8A(q8a_gemv)(const actsparse_q8_job *j, float *y, int lo, int hi, int *acc, const int codec) {
    const int bb = codec == 4 ? 16 : codec == 5 ? 20 : codec == 6 ? 24 : 32;
    const int wide = codec == 8 || codec == -8, zoff = Q8A(q8a_zoff)(j, codec);
    const int P = j->passRows < 4 ? 4 : j->passRows > Q8A_MAX_PASS ? Q8A_MAX_PASS : j->passRows & ~3;
    const long stride = j->stride;
    const long segEnd = (long)(hi >> 5) * bb, segLo = (long)(lo >> 5) * bb;
    const unsigned char *rp[Q8A_MAX_PASS];
    for (int gi = 0; gi < j->ngroups; gi++) {
        const int g = j->gid[gi], n = j->glen[gi];
        const int *rows = j->rows + j->gstart[gi];
        const signed char *q = j->q + j->gstart[gi];
        const float xs = j->gxs[gi], sx = j->gsx[gi];
        const __m256i zsum = _mm256_set1_epi32(zoff * j->gsum[gi]);
        const long go = (long)g * j->oc, so = j->superBlock ? (long)g * j->group / j->superBlock * j->oc : 0;
        for (int k0 = 0; k0 < n; k0 += P) {
            const int k1 = k0 + P < n ? k0 + P : n, first = k0 == 0, last = k1 == n;
            // The next pass's rows (this group's or the next group's), for the prefetches past the chunk's end.
            const int *nrows = !last ? rows + k1 : gi + 1 < j->ngroups ? j->rows + j->gstart[gi + 1] : 0;
            int nn = !last ? n - k1 : gi + 1 < j->ngroups ? j->glen[gi + 1] : 0;
            nn = nn < P ? nn : P;
            for (int k = k0; k < k1; k++) rp[k - k0] = j->codes + rows[k] * stride;
            // 4-bit and 8-bit codes: two blocks per tile (their loads are light, and per-tile costs halve);
            // 5- and 6-bit: one (their plane decoding needs the registers).
            int o = lo;
            if (codec == 4 || wide)
                for (; o + 64 <= hi; o += 64)
                    Q8A(q8a_tile)(j, rp, q, k0, k1, o, acc + (o - lo), first, last, nrows, nn, segLo, segEnd, go, so,
                                  zsum, xs, sx, y, codec, 2);
            for (; o < hi; o += 32)
                Q8A(q8a_tile)(j, rp, q, k0, k1, o, acc + (o - lo), first, last, nrows, nn, segLo, segEnd, go, so, zsum,
                              xs, sx, y, codec, 1);
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

/// Prefill GEMM for one codec: per 32-column block and group, the group's rows interleaved once into `panel` (G/4 ×
/// 128 bytes, L1) and met by every prompt row, two at a time; float sums in `yacc` ([m, 32], the accumulators' lane
/// order, scales permuted alike), put in column order once per block.
Q8A_INLINE void Q8A(q8a_gemm)(const actsparse_q8_job *j, int ic, const signed char *xq, const float *xs, const int *xsum,
                              int m, float *y, int lo, int hi, unsigned char *panel, float *yacc, const int codec) {
    const int bb = codec == 4 ? 16 : codec == 5 ? 20 : codec == 6 ? 24 : 32;
    const int wide = codec == 8 || codec == -8, G = j->group, ng = ic / G, zoff = Q8A(q8a_zoff)(j, codec);
    const long stride = j->stride;
    const int hasMin = j->kind & 1;
    for (int o = lo; o < hi; o += 32) {
        const long boff = (long)(o >> 5) * bb;
        for (long i = 0; i < (long)m * 32; i += 8) _mm256_storeu_ps(yacc + i, _mm256_setzero_ps());
        for (int g = 0; g < ng; g++) {
            const unsigned char *base = j->codes + (long)g * G * stride + boff;
            for (int k4 = 0; k4 < G / 4; k4++) {
                const unsigned char *r = base + (long)(4 * k4) * stride;
                const __m256i a0 = Q8A(q8a_load)(r, codec), a1 = Q8A(q8a_load)(r + stride, codec);
                const __m256i a2 = Q8A(q8a_load)(r + 2 * stride, codec), a3 = Q8A(q8a_load)(r + 3 * stride, codec);
                __m256i *pv = (__m256i *)(panel + (long)k4 * 128);
                const __m256i p01l = _mm256_unpacklo_epi8(a0, a1), p01h = _mm256_unpackhi_epi8(a0, a1);
                const __m256i p23l = _mm256_unpacklo_epi8(a2, a3), p23h = _mm256_unpackhi_epi8(a2, a3);
                _mm256_store_si256(pv + 0, _mm256_unpacklo_epi16(p01l, p23l));
                _mm256_store_si256(pv + 1, _mm256_unpackhi_epi16(p01l, p23l));
                _mm256_store_si256(pv + 2, _mm256_unpacklo_epi16(p01h, p23h));
                _mm256_store_si256(pv + 3, _mm256_unpackhi_epi16(p01h, p23h));
            }
            // The group's scales and mins in column order, then permuted like the accumulators.
            const long go = (long)g * j->oc, so = j->superBlock ? (long)g * G / j->superBlock * j->oc : 0;
            __m256 S[4], Mn[4];
            for (int v = 0; v < 4; v++) Q8A(q8a_scales8)(j, go, so, o + 8 * v, &S[v], &Mn[v]);
            __m256i t[4];
            for (int v = 0; v < 4; v++) t[v] = _mm256_castps_si256(S[v]);
            Q8A_TO_LANES(t[0], t[1], t[2], t[3])
            for (int v = 0; v < 4; v++) { S[v] = _mm256_castsi256_ps(t[v]); t[v] = _mm256_castps_si256(Mn[v]); }
            Q8A_TO_LANES(t[0], t[1], t[2], t[3])
            for (int v = 0; v < 4; v++) Mn[v] = _mm256_castsi256_ps(t[v]);
#if Q8A_VNNI
            for (int r = 0; r < m; r += 2) {
                const int two = r + 1 < m;
                const signed char *x0 = xq + (long)r * ic + (long)g * G, *x1 = two ? x0 + ic : x0;
                __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0, c0 = a0, c1 = a0, c2 = a0, c3 = a0;
                for (int k4 = 0; k4 < G / 4; k4++) {
                    const __m256i *pv = (const __m256i *)(panel + (long)k4 * 128);
                    int i0, i1;
                    __builtin_memcpy(&i0, x0 + 4 * k4, 4);
                    __builtin_memcpy(&i1, x1 + 4 * k4, 4);
                    const __m256i b0 = _mm256_set1_epi32(i0), b1 = _mm256_set1_epi32(i1);
                    __m256i v = _mm256_load_si256(pv + 0);
                    a0 = Q8A(q8a_dot)(a0, v, b0, wide); c0 = Q8A(q8a_dot)(c0, v, b1, wide);
                    v = _mm256_load_si256(pv + 1);
                    a1 = Q8A(q8a_dot)(a1, v, b0, wide); c1 = Q8A(q8a_dot)(c1, v, b1, wide);
                    v = _mm256_load_si256(pv + 2);
                    a2 = Q8A(q8a_dot)(a2, v, b0, wide); c2 = Q8A(q8a_dot)(c2, v, b1, wide);
                    v = _mm256_load_si256(pv + 3);
                    a3 = Q8A(q8a_dot)(a3, v, b0, wide); c3 = Q8A(q8a_dot)(c3, v, b1, wide);
                }
                const __m256i A[2][4] = {{a0, a1, a2, a3}, {c0, c1, c2, c3}};
                for (int h = 0; h < 1 + two; h++) {
                    const int row = r + h;
                    const float xsv = xs[(long)row * ng + g];
                    const int qs = xsum[(long)row * ng + g];
                    const __m256i z = _mm256_set1_epi32(zoff * qs);
                    const __m256 xsb = _mm256_set1_ps(xsv), sxb = _mm256_set1_ps(xsv * (float)qs);
                    float *ya = yacc + (long)row * 32;
                    for (int v = 0; v < 4; v++) {
                        __m256 av = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(A[h][v], z)), xsb);
                        __m256 tt = _mm256_fmadd_ps(S[v], av, _mm256_loadu_ps(ya + 8 * v));
                        if (hasMin) tt = _mm256_fmadd_ps(Mn[v], sxb, tt);
                        _mm256_storeu_ps(ya + 8 * v, tt);
                    }
                }
            }
#else
            // Two rows at a time (each panel vector feeds both): i16 sums over Q8A_I16_STEPS steps (4-bit: a whole
            // group of 32), widened once.
            for (int r = 0; r < m; r += 2) {
                const int two = r + 1 < m;
                const signed char *x0 = xq + (long)r * ic + (long)g * G, *x1 = two ? x0 + ic : x0;
                __m256i a[8];
                for (int v = 0; v < 8; v++) a[v] = _mm256_setzero_si256();
                for (int k4 = 0; k4 < G / 4;) {
                    const int kend = k4 + Q8A_I16_STEPS(codec) < G / 4 ? k4 + Q8A_I16_STEPS(codec) : G / 4;
                    __m256i h0 = _mm256_setzero_si256(), h1 = h0, h2 = h0, h3 = h0, e0 = h0, e1 = h0, e2 = h0, e3 = h0;
                    for (; k4 < kend; k4++) {
                        const __m256i *pv = (const __m256i *)(panel + (long)k4 * 128);
                        int i0, i1;
                        __builtin_memcpy(&i0, x0 + 4 * k4, 4);
                        __builtin_memcpy(&i1, x1 + 4 * k4, 4);
                        const __m256i b0 = _mm256_set1_epi32(i0), b1 = _mm256_set1_epi32(i1);
                        __m256i v = _mm256_load_si256(pv + 0);
                        h0 = Q8A(q8a_dot16)(h0, v, b0, wide); e0 = Q8A(q8a_dot16)(e0, v, b1, wide);
                        v = _mm256_load_si256(pv + 1);
                        h1 = Q8A(q8a_dot16)(h1, v, b0, wide); e1 = Q8A(q8a_dot16)(e1, v, b1, wide);
                        v = _mm256_load_si256(pv + 2);
                        h2 = Q8A(q8a_dot16)(h2, v, b0, wide); e2 = Q8A(q8a_dot16)(e2, v, b1, wide);
                        v = _mm256_load_si256(pv + 3);
                        h3 = Q8A(q8a_dot16)(h3, v, b0, wide); e3 = Q8A(q8a_dot16)(e3, v, b1, wide);
                    }
                    const __m256i one = _mm256_set1_epi16(1);
                    a[0] = _mm256_add_epi32(a[0], _mm256_madd_epi16(h0, one));
                    a[1] = _mm256_add_epi32(a[1], _mm256_madd_epi16(h1, one));
                    a[2] = _mm256_add_epi32(a[2], _mm256_madd_epi16(h2, one));
                    a[3] = _mm256_add_epi32(a[3], _mm256_madd_epi16(h3, one));
                    a[4] = _mm256_add_epi32(a[4], _mm256_madd_epi16(e0, one));
                    a[5] = _mm256_add_epi32(a[5], _mm256_madd_epi16(e1, one));
                    a[6] = _mm256_add_epi32(a[6], _mm256_madd_epi16(e2, one));
                    a[7] = _mm256_add_epi32(a[7], _mm256_madd_epi16(e3, one));
                }
                for (int h = 0; h < 1 + two; h++) {
                    const int row = r + h;
                    const float xsv = xs[(long)row * ng + g];
                    const int qs = xsum[(long)row * ng + g];
                    const __m256i z = _mm256_set1_epi32(zoff * qs);
                    const __m256 xsb = _mm256_set1_ps(xsv), sxb = _mm256_set1_ps(xsv * (float)qs);
                    float *ya = yacc + (long)row * 32;
                    for (int v = 0; v < 4; v++) {
                        __m256 av = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(a[4 * h + v], z)), xsb);
                        __m256 tt = _mm256_fmadd_ps(S[v], av, _mm256_loadu_ps(ya + 8 * v));
                        if (hasMin) tt = _mm256_fmadd_ps(Mn[v], sxb, tt);
                        _mm256_storeu_ps(ya + 8 * v, tt);
                    }
                }
            }
#endif
        }
        for (int r = 0; r < m; r++) {  // column order, into y
            const float *ya = yacc + (long)r * 32;
            __m256i t[4];
            for (int v = 0; v < 4; v++) t[v] = _mm256_castps_si256(_mm256_loadu_ps(ya + 8 * v));
            Q8A_TO_COLUMNS(t[0], t[1], t[2], t[3])
            for (int v = 0; v < 4; v++) _mm256_storeu_ps(y + (long)r * j->oc + o + 8 * v, _mm256_castsi256_ps(t[v]));
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
