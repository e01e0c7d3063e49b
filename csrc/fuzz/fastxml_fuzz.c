/* libFuzzer harness for csrc/fastxml.c: any input, no crash, no out-of-bounds access,
 * and the reported spans stay inside what was written.
 * Build and run: csrc/fuzz/run_fuzz.py fastxml --seconds 20 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fastxml.h"

static void check_span(struct pv_fx_span s, int used)
{
    if ((uint64_t)s.off + s.len > (uint64_t)used)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pv_fx_domain res;
    /* Exactly-sized heap buffers so ASan sees any overrun; +1 keeps malloc(0) portable. */
    char *out = malloc(size + 1);
    char *small = malloc(size / 2 + 1);
    int used;

    if (!out || !small)
        abort();
    used = pv_fx_parse_domain((const char *)data, size, out, size, &res);
    if (used >= 0) {
        if ((size_t)used > size || res.reason != PV_FX_OK)
            abort();
        check_span(res.type, used);
        check_span(res.name, used);
        check_span(res.os_type, used);
        if (res.present & PV_FX_HAVE_UUID)
            check_span(res.uuid, used);
        if (res.present & PV_FX_HAVE_MEMORY_UNIT)
            check_span(res.memory_unit, used);
        if (res.name.len == 0 || res.type.len == 0 || res.os_type.len == 0 || res.vcpu == 0)
            abort();
    } else if (res.reason == PV_FX_OK || res.err_offset > size) {
        abort();
    }
    /* Too small an output buffer must fail cleanly (or succeed if it fits). */
    used = pv_fx_parse_domain((const char *)data, size, small, size / 2, &res);
    if (used > (int)(size / 2))
        abort();
    free(small);
    free(out);
    return 0;
}
