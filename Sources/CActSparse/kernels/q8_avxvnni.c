// The int8 GEMV and prefill GEMM for AVX-VNNI (Alder Lake and later clients, Sapphire Rapids, Zen 5): one 256-bit vpdpbusd per four products.
#include "kernels.h"
#if defined(__x86_64__)
#include <immintrin.h>
#pragma clang attribute push(__attribute__((target(ACTSPARSE_TARGET_AVXVNNI))), apply_to = function)
#define Q8A_VNNI 1
#define Q8A_SUFFIX avxvnni
#include "q8_avx2_body.h"
#pragma clang attribute pop
#endif
