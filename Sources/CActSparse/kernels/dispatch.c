// Run-time choice of the vector kernels: the CPU is asked once (CPUID and the OS's saved register state, through
// __builtin_cpu_supports); KernelISA.swift applies ACTSPARSE_ISA on top and passes the level to every call.
#include "kernels.h"

static int actsparse_detect_uncached(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (!(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c")))
        return ACTSPARSE_ISA_SCALAR;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni") &&
        __builtin_cpu_supports("avx512vbmi") && __builtin_cpu_supports("avx512bitalg"))
        return ACTSPARSE_ISA_AVX512;
    if (__builtin_cpu_supports("avxvnni")) return ACTSPARSE_ISA_AVXVNNI;
    return ACTSPARSE_ISA_AVX2;
#else
    return ACTSPARSE_ISA_SCALAR;
#endif
}

int actsparse_isa_detect(void) {
    static int cached = -1;  // a benign race: every thread computes the same value
    if (cached < 0) cached = actsparse_detect_uncached();
    return cached;
}

/// A level above what the CPU runs would fault on the first instruction: run the best one it has instead.
static int actsparse_isa_clamp(int isa) {
    int best = actsparse_isa_detect();
    return isa > best ? best : isa < 0 ? 0 : isa;
}

void actsparse_q8_gemv_isa(int isa, const actsparse_q8_job *j, float *y, int lo, int hi, int *acc) {
    switch (actsparse_isa_clamp(isa)) {
#if defined(__x86_64__)
    case ACTSPARSE_ISA_AVX512: actsparse_q8_gemv_avx512(j, y, lo, hi, acc); return;
    case ACTSPARSE_ISA_AVXVNNI: actsparse_q8_gemv_avxvnni(j, y, lo, hi, acc); return;
    case ACTSPARSE_ISA_AVX2: actsparse_q8_gemv_avx2(j, y, lo, hi, acc); return;
#endif
    default: (void)acc; actsparse_q8_gemv_scalar(j, y, lo, hi); return;
    }
}

void actsparse_q8_gemm_isa(int isa, const actsparse_q8_job *j, int ic, const signed char *xq, const float *xs,
                           const int *xsum, int m, float *y, int lo, int hi, unsigned char *panel, float *yacc) {
    switch (actsparse_isa_clamp(isa)) {
#if defined(__x86_64__)
    case ACTSPARSE_ISA_AVX512: actsparse_q8_gemm_avx512(j, ic, xq, xs, xsum, m, y, lo, hi, panel, yacc); return;
    case ACTSPARSE_ISA_AVXVNNI: actsparse_q8_gemm_avxvnni(j, ic, xq, xs, xsum, m, y, lo, hi, panel, yacc); return;
    case ACTSPARSE_ISA_AVX2: actsparse_q8_gemm_avx2(j, ic, xq, xs, xsum, m, y, lo, hi, panel, yacc); return;
#endif
    default: (void)panel; (void)yacc; actsparse_q8_gemm_scalar(j, ic, xq, xs, xsum, m, y, lo, hi); return;
    }
}

void actsparse_attend_isa(int isa, const float *q, int g, int d, const void *k, const void *v, long stride, int kind,
                          int n, float scale, float *scores, float *out) {
    switch (actsparse_isa_clamp(isa)) {
#if defined(__x86_64__)
    case ACTSPARSE_ISA_AVX512: actsparse_attend_avx512(q, g, d, k, v, stride, kind, n, scale, scores, out); return;
    case ACTSPARSE_ISA_AVXVNNI:
    case ACTSPARSE_ISA_AVX2: actsparse_attend_avx2(q, g, d, k, v, stride, kind, n, scale, scores, out); return;
#endif
    default: actsparse_attend_scalar(q, g, d, k, v, stride, kind, n, scale, scores, out); return;
    }
}

void actsparse_score_row_isa(int isa, const float *x, int n, int next, const float *ref, float *out, double *nll,
                             double *kl) {
    switch (actsparse_isa_clamp(isa)) {
#if defined(__x86_64__)
    case ACTSPARSE_ISA_AVX512: actsparse_score_row_avx512(x, n, next, ref, out, nll, kl); return;
    case ACTSPARSE_ISA_AVXVNNI:
    case ACTSPARSE_ISA_AVX2: actsparse_score_row_avx2(x, n, next, ref, out, nll, kl); return;
#endif
    default: actsparse_score_row_scalar(x, n, next, ref, out, nll, kl); return;
    }
}
