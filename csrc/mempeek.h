/* mempeek.h: reading guest RAM from a shared file-backed mapping, physical or virtual.
 *
 * When a guest's RAM is a memory-backend-file with share=on, the file *is* the guest's
 * memory: mapping it read-only (MAP_SHARED) lets the owner read guest-physical bytes
 * with a memcpy instead of QMP pmemsave + a temp file.  Guest-physical addresses map to
 * file offsets through a small region table (QEMU's pc/q35 layout: RAM below the PCI
 * hole at 0, the rest above 4 GiB; the caller leaves the legacy VGA/ROM window out, so
 * those reads fall back to QMP, which sees what the guest sees there).  Virtual
 * addresses are translated by walking the x86 page tables found in that same memory,
 * as QEMU's x86_cpu_get_phys_page_attrs_debug() does for memsave.
 *
 * Any address the table does not cover returns -EFAULT: the caller then asks QEMU.
 * No global state: a struct pv_mp_map is owned by the caller; every call returns a
 * count (>= 0) or -errno.  Fed to cffi's cdef by csrc/build_core.py.
 */
#ifndef PYVIRT_MEMPEEK_H
#define PYVIRT_MEMPEEK_H

#include <stdint.h>

/* paging modes (pv_mp_translate's mode) */
/* CR0.PG clear: virtual is physical */
#define PV_MP_PAGING_NONE 0
/* 2-level, 4 KiB / 4 MiB pages (CR4.PSE) */
#define PV_MP_PAGING_32 1
/* 3-level PAE */
#define PV_MP_PAGING_PAE 2
/* long mode, 4-level */
#define PV_MP_PAGING_4LEVEL 3
/* long mode, LA57 */
#define PV_MP_PAGING_5LEVEL 4

#define PV_MP_MAX_REGIONS 16

struct pv_mp_region {           /* guest-physical [gpa, gpa+size) at file offset `offset` */
    uint64_t gpa;
    uint64_t size;
    uint64_t offset;
};

struct pv_mp_map {              /* one read-only mapping of a guest RAM file */
    const unsigned char *base;
    uint64_t size;
};

/* Map the file at path read-only and shared; its size must be at least min_size. */
int pv_mp_open(const char *path, uint64_t min_size, struct pv_mp_map *out);

/* Unmap (idempotent: base becomes NULL). */
int pv_mp_close(struct pv_mp_map *m);

/* The file offset of guest-physical [gpa, gpa+len) when it lies inside one region of
 * the table and inside the mapping: 0 and *off, or -EFAULT. */
int pv_mp_phys_offset(const struct pv_mp_map *m, const struct pv_mp_region *regions,
                      uint32_t nregions, uint64_t gpa, uint64_t len, uint64_t *off);

/* Copy guest-physical [gpa, gpa+len) to out (it may span regions): len or -EFAULT. */
int64_t pv_mp_read_phys(const struct pv_mp_map *m, const struct pv_mp_region *regions,
                        uint32_t nregions, uint64_t gpa, uint64_t len, char *out);

/* Translate a virtual address with the page tables rooted at cr3: 0 and *gpa, or
 * -ENXIO (not mapped: QEMU's memsave refuses it too), -EFAULT (a table lies outside
 * the mapped RAM), -EINVAL (unknown mode). pse: CR4.PSE (32-bit paging only). */
int pv_mp_translate(const struct pv_mp_map *m, const struct pv_mp_region *regions,
                    uint32_t nregions, uint64_t cr3, int mode, int pse, uint64_t va,
                    uint64_t *gpa);

/* Copy virtual [va, va+len) to out, page by page: len or an error as above. */
int64_t pv_mp_read_virt(const struct pv_mp_map *m, const struct pv_mp_region *regions,
                        uint32_t nregions, uint64_t cr3, int mode, int pse, uint64_t va,
                        uint64_t len, char *out);

#endif /* PYVIRT_MEMPEEK_H */
