/* mempeek.c: guest RAM from a shared mapping, with an x86 page walk (see mempeek.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mempeek.h"

/* QEMU target/i386/cpu.h: PG_PRESENT_MASK, PG_PSE_MASK, PG_ADDRESS_MASK (52-bit). */
#define PG_PRESENT 0x1ULL
#define PG_PSE 0x80ULL
#define PG_ADDR 0x000ffffffffff000ULL
#define PAGE 4096ULL

int pv_mp_open(const char *path, uint64_t min_size, struct pv_mp_map *out)
{
    struct stat st;
    void *p;
    int fd, err;

    if (!path || !out)
        return -EINVAL;
    out->base = NULL;
    out->size = 0;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) < 0) {
        err = errno;
        close(fd);
        return -err;
    }
    if (!S_ISREG(st.st_mode) || st.st_size <= 0 || (uint64_t)st.st_size < min_size) {
        close(fd);
        return -EINVAL;
    }
    p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    err = errno;
    close(fd);      /* the mapping keeps the file */
    if (p == MAP_FAILED)
        return -err;
    out->base = p;
    out->size = (uint64_t)st.st_size;
    return 0;
}

int pv_mp_close(struct pv_mp_map *m)
{
    if (!m)
        return -EINVAL;
    if (m->base && munmap((void *)m->base, (size_t)m->size) < 0)
        return -errno;
    m->base = NULL;
    m->size = 0;
    return 0;
}

static int table_ok(const struct pv_mp_map *m, const struct pv_mp_region *r, uint32_t n)
{
    return m && m->base && (r || n == 0) && n <= PV_MP_MAX_REGIONS;
}

/* The region holding gpa and how many bytes of it follow gpa (in region and mapping). */
static const struct pv_mp_region *find(const struct pv_mp_map *m,
                                       const struct pv_mp_region *r, uint32_t n,
                                       uint64_t gpa, uint64_t *avail)
{
    uint32_t i;
    for (i = 0; i < n; i++) {
        uint64_t rel, fo;
        if (gpa < r[i].gpa || gpa - r[i].gpa >= r[i].size)
            continue;
        rel = gpa - r[i].gpa;
        fo = r[i].offset + rel;
        if (fo < r[i].offset || fo >= m->size)
            return NULL;
        *avail = r[i].size - rel;
        if (*avail > m->size - fo)
            *avail = m->size - fo;
        return &r[i];
    }
    return NULL;
}

int pv_mp_phys_offset(const struct pv_mp_map *m, const struct pv_mp_region *regions,
                      uint32_t nregions, uint64_t gpa, uint64_t len, uint64_t *off)
{
    const struct pv_mp_region *r;
    uint64_t avail = 0;
    if (!table_ok(m, regions, nregions) || !off)
        return -EINVAL;
    r = find(m, regions, nregions, gpa, &avail);
    if (!r || len > avail)
        return -EFAULT;
    *off = r->offset + (gpa - r->gpa);
    return 0;
}

int64_t pv_mp_read_phys(const struct pv_mp_map *m, const struct pv_mp_region *regions,
                        uint32_t nregions, uint64_t gpa, uint64_t len, char *out)
{
    uint64_t done = 0;
    if (!table_ok(m, regions, nregions) || (!out && len) || len > INT64_MAX)
        return -EINVAL;
    while (done < len) {
        uint64_t avail = 0, n;
        const struct pv_mp_region *r = find(m, regions, nregions, gpa + done, &avail);
        if (!r || gpa + done < gpa)
            return -EFAULT;
        n = len - done < avail ? len - done : avail;
        memcpy(out + done, m->base + r->offset + (gpa + done - r->gpa), (size_t)n);
        done += n;
    }
    return (int64_t)len;
}

/* An aligned 8- or 4-byte page-table entry at guest-physical gpa. */
static int load(const struct pv_mp_map *m, const struct pv_mp_region *r, uint32_t n,
                uint64_t gpa, int size, uint64_t *val)
{
    uint64_t avail = 0;
    const struct pv_mp_region *reg = find(m, r, n, gpa, &avail);
    if (!reg || avail < (uint64_t)size)
        return -EFAULT;
    if (size == 8) {
        uint64_t v;
        memcpy(&v, m->base + reg->offset + (gpa - reg->gpa), 8);
        *val = v;       /* x86 guests on an x86 host: same byte order */
    } else {
        uint32_t v;
        memcpy(&v, m->base + reg->offset + (gpa - reg->gpa), 4);
        *val = v;
    }
    return 0;
}

int pv_mp_translate(const struct pv_mp_map *m, const struct pv_mp_region *regions,
                    uint32_t nregions, uint64_t cr3, int mode, int pse, uint64_t va,
                    uint64_t *gpa)
{
    uint64_t e, page_size = PAGE, base;
    int rc;
#define LOAD(addr, sz) do { if ((rc = load(m, regions, nregions, (addr), (sz), &e)) < 0) \
                                 return rc; } while (0)
#define PRESENT() do { if (!(e & PG_PRESENT)) return -ENXIO; } while (0)

    if (!table_ok(m, regions, nregions) || !gpa)
        return -EINVAL;
    switch (mode) {
    case PV_MP_PAGING_NONE:
        *gpa = va & 0x000fffffffffffffULL;  /* QEMU: addr & PG_ADDRESS_MASK, page offset kept */
        return 0;
    case PV_MP_PAGING_4LEVEL:
    case PV_MP_PAGING_5LEVEL: {
        int la57 = mode == PV_MP_PAGING_5LEVEL;
        int64_t sext = la57 ? (int64_t)va >> 56 : (int64_t)va >> 47;
        if (sext != 0 && sext != -1)
            return -ENXIO;              /* not canonical */
        e = cr3;
        if (la57) {
            LOAD((e & PG_ADDR) + (((va >> 48) & 0x1ff) << 3), 8);
            PRESENT();
        }
        LOAD((e & PG_ADDR) + (((va >> 39) & 0x1ff) << 3), 8);
        PRESENT();
        LOAD((e & PG_ADDR) + (((va >> 30) & 0x1ff) << 3), 8);
        PRESENT();
        if (e & PG_PSE) {
            page_size = 1ULL << 30;
            break;
        }
        goto pae_pd;
    }
    case PV_MP_PAGING_PAE:
        LOAD((cr3 & ~0x1fULL & 0xffffffffULL) + ((va >> 27) & 0x18), 8);
        PRESENT();
    pae_pd:
        LOAD((e & PG_ADDR) + (((va >> 21) & 0x1ff) << 3), 8);
        PRESENT();
        if (e & PG_PSE) {
            page_size = 2ULL << 20;
            break;
        }
        LOAD((e & PG_ADDR) + (((va >> 12) & 0x1ff) << 3), 8);
        PRESENT();
        break;
    case PV_MP_PAGING_32:
        LOAD(((cr3 & ~0xfffULL) & 0xffffffffULL) + ((va >> 20) & 0xffc), 4);
        PRESENT();
        if ((e & PG_PSE) && pse) {
            e |= (e & 0x1fe000ULL) << (32 - 13);      /* PSE-36 */
            page_size = 4ULL << 20;
            break;
        }
        LOAD((e & ~0xfffULL) + ((va >> 10) & 0xffc), 4);
        PRESENT();
        break;
    default:
        return -EINVAL;
    }
#undef LOAD
#undef PRESENT
    base = e & PG_ADDR & ~(page_size - 1);
    *gpa = base | (va & (page_size - 1));
    return 0;
}

int64_t pv_mp_read_virt(const struct pv_mp_map *m, const struct pv_mp_region *regions,
                        uint32_t nregions, uint64_t cr3, int mode, int pse, uint64_t va,
                        uint64_t len, char *out)
{
    uint64_t done = 0;
    if (!table_ok(m, regions, nregions) || (!out && len) || len > INT64_MAX)
        return -EINVAL;
    while (done < len) {
        uint64_t addr = va + done, pa = 0, n = PAGE - (addr & (PAGE - 1));
        int64_t rc;
        int trc = pv_mp_translate(m, regions, nregions, cr3, mode, pse, addr, &pa);
        if (trc < 0)
            return trc;
        if (n > len - done)
            n = len - done;
        rc = pv_mp_read_phys(m, regions, nregions, pa, n, out + done);
        if (rc < 0)
            return rc;
        done += n;
    }
    return (int64_t)len;
}
