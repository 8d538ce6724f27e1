#ifndef ACTSPARSE_KERNELS_H
#define ACTSPARSE_KERNELS_H
// The vector kernels by instruction set, behind actsparse_*_isa (dispatch.c). Each file compiles its functions for
// its instruction set with a target attribute, whatever flags the build passes: the choice is made at run time.
#include "CActSparse.h"

#define ACTSPARSE_TARGET_AVX2 "avx2,fma,f16c"
#define ACTSPARSE_TARGET_AVXVNNI "avx2,fma,f16c,avxvnni"
#define ACTSPARSE_TARGET_AVX512 "avx512f,avx512bw,avx512dq,avx512vl,avx512vnni,avx512vbmi,avx512bitalg,avx2,fma,f16c"

void actsparse_q8_gemv_avx2(const actsparse_q8_job *j, float *y, int lo, int hi, int *acc);
void actsparse_q8_gemv_avxvnni(const actsparse_q8_job *j, float *y, int lo, int hi, int *acc);
void actsparse_q8_gemv_avx512(const actsparse_q8_job *j, float *y, int lo, int hi, int *acc);
void actsparse_q8_gemm_avx2(const actsparse_q8_job *j, int ic, const signed char *xq, const float *xs, const int *xsum,
                            int m, float *y, int lo, int hi, unsigned char *panel, float *yacc);
void actsparse_q8_gemm_avxvnni(const actsparse_q8_job *j, int ic, const signed char *xq, const float *xs,
                               const int *xsum, int m, float *y, int lo, int hi, unsigned char *panel, float *yacc);
void actsparse_q8_gemm_avx512(const actsparse_q8_job *j, int ic, const signed char *xq, const float *xs,
                              const int *xsum, int m, float *y, int lo, int hi, unsigned char *panel, float *yacc);
void actsparse_attend_avx2(const float *q, int g, int d, const void *k, const void *v, long stride, int kind, int n,
                           float scale, float *scores, float *out);
void actsparse_attend_avx512(const float *q, int g, int d, const void *k, const void *v, long stride, int kind, int n,
                             float scale, float *scores, float *out);

void actsparse_score_row_avx2(const float *x, int n, int next, const float *ref, float *out, double *nll, double *kl);
void actsparse_score_row_avx512(const float *x, int n, int next, const float *ref, float *out, double *nll,
                                double *kl);

#endif
