#ifndef ACTSPARSE_C_H
#define ACTSPARSE_C_H
// What Swift has no spelling for, used by the kernels. Inline: Swift's Clang importer inlines it.

/// Software prefetch into all cache levels. The decode kernel walks kept rows that are often only a few cache
/// lines long, too short for the hardware stream prefetcher: it prefetches the next pass's rows as it goes.
static inline void actsparse_prefetch(const void *p) { __builtin_prefetch(p, 0, 3); }

/// Spin-wait hint (x86 PAUSE): lets the sibling hyper-thread run and saves power while a worker polls.
static inline void actsparse_pause(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

// MARK: 5- and 6-bit codes (U5Codec, U6Codec in RowCodec.swift)
// The same lane arithmetic in Swift became per-lane shift permutes or out-of-line mask calls (3–100× slower);
// clang's vector extensions give vpmovzxbd, vptestmd and masked ors. A block of 32 columns is 16 bytes of
// nibbles (byte k: column k low, column k + 16 high) and one 32-bit plane per high bit, column k's bit at
// 8·((k mod 16) mod 4) + (k mod 16)/4 (+4 for columns 16…31).
typedef float actsparse_f32x16 __attribute__((ext_vector_type(16)));
typedef int actsparse_i32x16 __attribute__((ext_vector_type(16)));
typedef unsigned char actsparse_u8x16 __attribute__((ext_vector_type(16)));

/// The 32 columns of a 5-bit (planes = 1) or 6-bit (planes = 2) block at p as floats: out[0..<32].
static inline void actsparse_load_planes(const void *p, int planes, float *out) {
    const actsparse_i32x16 mlo = {1 << 0, 1 << 8, 1 << 16, 1 << 24, 1 << 1, 1 << 9, 1 << 17, 1 << 25,
                                  1 << 2, 1 << 10, 1 << 18, 1 << 26, 1 << 3, 1 << 11, 1 << 19, 1 << 27};
    const actsparse_i32x16 mhi = mlo << 4;
    actsparse_u8x16 b;
    __builtin_memcpy(&b, p, 16);
    actsparse_i32x16 v = __builtin_convertvector(b, actsparse_i32x16);
    actsparse_i32x16 l = v & 15, u = v >> 4;
    for (int k = 0; k < planes; k++) {
        int w;
        __builtin_memcpy(&w, (const unsigned char *)p + 16 + 4 * k, 4);
        actsparse_i32x16 h = (actsparse_i32x16)w;
        int bit = 16 << k;
        l |= ((h & mlo) != 0) & bit;
        u |= ((h & mhi) != 0) & bit;
    }
    actsparse_f32x16 fl = __builtin_convertvector(l, actsparse_f32x16), fu = __builtin_convertvector(u, actsparse_f32x16);
    __builtin_memcpy(out, &fl, 64);
    __builtin_memcpy(out + 16, &fu, 64);
}

#endif
