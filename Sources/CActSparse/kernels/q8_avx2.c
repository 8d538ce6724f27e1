// The int8 GEMV and prefill GEMM for AVX2 + FMA + F16C (Haswell, Zen 1–3 and later): vpmaddubsw + vpmaddwd per four products.
#include "kernels.h"
#if defined(__x86_64__)
#include <immintrin.h>
#pragma clang attribute push(__attribute__((target(ACTSPARSE_TARGET_AVX2))), apply_to = function)
#define Q8A_VNNI 0
#define Q8A_SUFFIX avx2
#include "q8_avx2_body.h"
#pragma clang attribute pop
#endif
