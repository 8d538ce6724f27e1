// The executable's NT_GNU_BUILD_ID note, found through the program headers of the main program (the first
// object dl_iterate_phdr reports): no file is read.
#define _GNU_SOURCE
#include "CActSparseSupport.h"
#include <elf.h>
#include <link.h>
#include <string.h>

struct found { unsigned char *out; int cap; int len; };

static int visit(struct dl_phdr_info *info, size_t size, void *arg) {
    (void)size;
    struct found *f = (struct found *)arg;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE) continue;
        const unsigned char *p = (const unsigned char *)(info->dlpi_addr + ph->p_vaddr), *end = p + ph->p_memsz;
        while (p + sizeof(ElfW(Nhdr)) <= end) {
            const ElfW(Nhdr) *n = (const ElfW(Nhdr) *)p;
            size_t name = (n->n_namesz + 3) & ~(size_t)3, desc = (n->n_descsz + 3) & ~(size_t)3;
            const unsigned char *d = p + sizeof(ElfW(Nhdr)) + name;
            if (d + desc > end) break;
            if (n->n_type == NT_GNU_BUILD_ID && n->n_namesz == 4 && memcmp(p + sizeof(ElfW(Nhdr)), "GNU", 4) == 0) {
                f->len = (int)n->n_descsz < f->cap ? (int)n->n_descsz : f->cap;
                memcpy(f->out, d, (size_t)f->len);
                return 1;
            }
            p = d + desc;
        }
    }
    return 1;  // only the main program: a library's id says nothing about this binary
}

int actsparse_build_id(unsigned char *out, int cap) {
    struct found f = { out, cap, 0 };
    dl_iterate_phdr(visit, &f);
    return f.len;
}
