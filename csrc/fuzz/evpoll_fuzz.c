/* libFuzzer harness for csrc/evpoll.c: random sequences of add/update/remove of watches
 * and timers plus non-blocking iterations on a scripted clock, checked against a
 * shadow count.  Exercises table growth, compaction, the per-fd chains and sorting.
 * Build and run: csrc/fuzz/run_fuzz.py evpoll --seconds 20 */
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "evpoll.h"

#define NFDS 4

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pv_ev_loop *loop;
    struct pv_ev_ready out[PV_EV_BATCH];
    int pipes[NFDS][2], i, nh = 0, nt = 0, last_w = 0, last_t = 0;
    int64_t now = 1000;
    size_t p = 0;

    if (pv_ev_new(&loop) < 0)
        abort();
    for (i = 0; i < NFDS; i++) {
        if (pipe(pipes[i]) < 0)
            abort();
        if (i % 2 && write(pipes[i][1], "x", 1) != 1)   /* half of them readable */
            abort();
    }
    pv_ev_set_clock(loop, now);
    while (p + 3 <= size) {
        uint8_t op = data[p] % 8, a = data[p + 1], b = data[p + 2];
        int rc, id;
        p += 3;
        switch (op) {
        case 0:     /* add watch: read end (readable or not) or write end (writable) */
            rc = pv_ev_add_handle(loop, pipes[a % NFDS][(a / NFDS) % 2], b % 16);
            if (rc <= last_w)
                abort();
            last_w = rc;
            nh++;
            break;
        case 1:
            id = 1 + a % (last_w + 1);
            rc = pv_ev_update_handle(loop, id, b % 16);
            if (rc != 0 && rc != -2)    /* -ENOENT */
                abort();
            break;
        case 2:
            id = 1 + a % (last_w + 1);
            if (pv_ev_remove_handle(loop, id) == 0)
                nh--;
            break;
        case 3:
            rc = pv_ev_add_timeout(loop, (int)b - 2);
            if (rc <= last_t)
                abort();
            last_t = rc;
            nt++;
            break;
        case 4:
            pv_ev_update_timeout(loop, 1 + a % (last_t + 1), (int)b - 2);
            break;
        case 5:
            if (pv_ev_remove_timeout(loop, 1 + a % (last_t + 1)) == 0)
                nt--;
            break;
        case 6:
            now += a;
            pv_ev_set_clock(loop, now);
            break;
        default:
            rc = pv_ev_run_once(loop, 0, out, 1 + b % PV_EV_BATCH);
            if (rc < 0 || rc > 1 + b % PV_EV_BATCH)
                abort();
            for (i = 1; i < rc; i++)    /* timers first, then handles, ids ascending */
                if (out[i].kind < out[i - 1].kind ||
                    (out[i].kind == out[i - 1].kind && out[i].id <= out[i - 1].id))
                    abort();
            break;
        }
        if (pv_ev_count(loop, PV_EV_HANDLE) != nh || pv_ev_count(loop, PV_EV_TIMER) != nt)
            abort();
        if (pv_ev_next_timeout(loop, &i) < 0 || i < -1)
            abort();
    }
    pv_ev_free(loop);
    for (i = 0; i < NFDS; i++) {
        close(pipes[i][0]);
        close(pipes[i][1]);
    }
    return 0;
}
