// Attention for AVX2 + FMA + F16C: the 16-wide vector code of attend_body.h in pairs of 256-bit registers.
#include "kernels.h"
#if defined(__x86_64__)
// 512-bit vector values between the body's static inline helpers: inlined, so no ABI crosses a call.
#pragma clang diagnostic ignored "-Wpsabi"
#pragma clang attribute push(__attribute__((target(ACTSPARSE_TARGET_AVX2))), apply_to = function)
#define ACTSPARSE_ATTEND_ENTRY actsparse_attend_avx2
#define ACTSPARSE_SCORE_ENTRY actsparse_score_row_avx2
#include "attend_body.h"
#pragma clang attribute pop
#endif
