// Attention for AVX-512: the 16-wide vector code of attend_body.h in zmm registers.
#include "kernels.h"
#if defined(__x86_64__)
#pragma clang attribute push(__attribute__((target(ACTSPARSE_TARGET_AVX512))), apply_to = function)
#define ACTSPARSE_ATTEND_ENTRY actsparse_attend_avx512
#define ACTSPARSE_SCORE_ENTRY actsparse_score_row_avx512
#include "attend_body.h"
#pragma clang attribute pop
#endif
