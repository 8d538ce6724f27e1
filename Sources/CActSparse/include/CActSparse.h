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

#endif
