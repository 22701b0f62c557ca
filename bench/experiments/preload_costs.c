/*
 * What a preloaded library costs a non-Python process, piece by piece.
 *
 * Built by bench/experiments/preload_costs.sh into several variants of the
 * do-nothing preload (bench/baselines/noop_preload.c), each adding one thing
 * libpyusage.so does in every process, so that their costs can be told apart:
 *
 *   -DIMPORTS     import the 33 libc functions libpyusage.so imports, bound
 *                 at load time (what -z now and GOT calls, Rust's defaults, do)
 *   -DDLSYM_CHECK "is this CPython?" as dlopen(NULL, RTLD_NOLOAD) + dlsym +
 *                 dlerror; in a non-Python process the dlsym fails, and glibc
 *                 formats an error message with malloc (initialising malloc
 *                 in a process that might never have used it)
 *   -DPHDR_CHECK  the same question answered without the dynamic loader's
 *                 error path: dl_iterate_phdr and a GNU-hash lookup of
 *                 PySys_AddAuditHook in each loaded object's own symbol table
 *                 (no allocation, no error state, no locks beyond the loader's)
 * (preload_costs.sh also builds "tiny": noop_preload.c with -nostdlib and two
 * segments, the least any preload can be.)
 *   -DAUDIT_NOOP  in CPython, register an audit hook that does nothing: what
 *                 any PEP 578 tracer pays before doing any work, because
 *                 CPython builds every event's arguments once a hook exists
 *                 (for `marshal.loads` that is a copy of every .pyc read)
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <stdint.h>
#include <string.h>

#ifdef IMPORTS
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <errno.h>
#include <stdio.h>
extern int __register_atfork(void (*)(void), void (*)(void), void (*)(void), void *);
/* Referencing the address forces a relocation the loader resolves at start. */
void *volatile pyusage_imports[] = {
    (void *)__errno_location, (void *)__register_atfork, (void *)abort, (void *)memcmp,
    (void *)chmod, (void *)clock_gettime, (void *)close, (void *)dl_iterate_phdr,
    (void *)dlerror, (void *)dlopen, (void *)dlsym, (void *)fstat, (void *)getpid,
    (void *)getppid, (void *)getuid, (void *)link, (void *)memcpy, (void *)memset,
    (void *)mkdir, (void *)mmap, (void *)munmap, (void *)on_exit, (void *)open,
    (void *)posix_fallocate, (void *)read, (void *)readlink, (void *)rename,
    (void *)strlen, (void *)syscall, (void *)uname, (void *)unlink, (void *)write,
    (void *)_exit,
};
#endif

int preload_costs_python_seen;

#ifdef PHDR_CHECK
/* GNU hash (h = h * 33 + c, from 5381) of "PySys_AddAuditHook", computed once. */
#define AUDIT_HOOK_HASH 0x1985757du

/* Look `name` up in one object's GNU hash table; no allocation, no errors. */
static int has_symbol(struct dl_phdr_info *info, const char *name, uint32_t h) {
    const ElfW(Dyn) *dyn = NULL;
    for (int i = 0; i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_DYNAMIC)
            dyn = (const ElfW(Dyn) *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
    if (!dyn) return 0;
    const uint32_t *gh = NULL;
    const ElfW(Sym) *symtab = NULL;
    const char *strtab = NULL;
    for (; dyn->d_tag != DT_NULL; dyn++) {
        /* The loader has already relocated these to addresses, except in the
         * vDSO, whose dynamic section holds offsets. */
        uintptr_t p = dyn->d_un.d_ptr;
        if (p < info->dlpi_addr) p += info->dlpi_addr;
        if (dyn->d_tag == DT_GNU_HASH) gh = (const uint32_t *)p;
        else if (dyn->d_tag == DT_SYMTAB) symtab = (const ElfW(Sym) *)p;
        else if (dyn->d_tag == DT_STRTAB) strtab = (const char *)p;
    }
    if (!gh || !symtab || !strtab) return 0;
    uint32_t nbuckets = gh[0], symoffset = gh[1], bloom_size = gh[2], bloom_shift = gh[3];
    const ElfW(Addr) *bloom = (const ElfW(Addr) *)(gh + 4);
    const uint32_t *buckets = (const uint32_t *)(bloom + bloom_size);
    const uint32_t *chain = buckets + nbuckets;
    const unsigned bits = sizeof(ElfW(Addr)) * 8;
    ElfW(Addr) word = bloom[(h / bits) % bloom_size];
    ElfW(Addr) mask = ((ElfW(Addr))1 << (h % bits)) | ((ElfW(Addr))1 << ((h >> bloom_shift) % bits));
    if ((word & mask) != mask) return 0;
    uint32_t idx = buckets[h % nbuckets];
    if (idx < symoffset) return 0;
    for (;; idx++) {
        uint32_t h2 = chain[idx - symoffset];
        if ((h | 1) == (h2 | 1) && strcmp(name, strtab + symtab[idx].st_name) == 0)
            return symtab[idx].st_shndx != SHN_UNDEF;
        if (h2 & 1) return 0;
    }
}

static int visit(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    (void)data;
    return has_symbol(info, "PySys_AddAuditHook", AUDIT_HOOK_HASH);
}
#endif

#ifdef AUDIT_NOOP
static int noop_hook(const char *event, void *args, void *data) {
    (void)event;
    (void)args;
    (void)data;
    return 0;
}
#endif

__attribute__((constructor)) static void preload_costs_init(void) {
#ifdef AUDIT_NOOP
    void *main_handle = dlopen(NULL, RTLD_NOLOAD | RTLD_NOW);
    void *add = main_handle ? dlsym(main_handle, "PySys_AddAuditHook") : NULL;
    if (add) {
        ((int (*)(int (*)(const char *, void *, void *), void *))add)(noop_hook, NULL);
        preload_costs_python_seen = 1;
    }
    dlerror();
#endif
#ifdef DLSYM_CHECK
    void *self = dlopen(NULL, RTLD_NOLOAD | RTLD_NOW);
    if (self) {
        dlerror();
        preload_costs_python_seen = dlsym(self, "PySys_AddAuditHook") != NULL;
        dlerror();
    }
#endif
#ifdef PHDR_CHECK
    preload_costs_python_seen = dl_iterate_phdr(visit, NULL);
#endif
}
