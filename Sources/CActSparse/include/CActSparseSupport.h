#ifndef CACTSPARSE_SUPPORT_H
#define CACTSPARSE_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

/// XXH64 (Yann Collet's xxHash, 64-bit, the reference algorithm) of `len` bytes at `data`: the per-tensor
/// content hash ranks compare to be sure they loaded the same weights (~10 GB/s on one core).
uint64_t actsparse_xxh64(const void *data, size_t len, uint64_t seed);

/// The executable's GNU build id (the linker's hash of the binary), copied into `out` (at most `cap` bytes).
/// Returns its length, 0 if the binary has none.
int actsparse_build_id(unsigned char *out, int cap);

#endif
