/* evpoll.h: an epoll poller with a timer table, the engine of pyvirt's default loop.
 *
 * It implements the bookkeeping half of libvirt's event-loop contract (watches on
 * file descriptors, timers with a period) and one blocking step: wait until a fd is
 * ready or a timer is due, then report what is ready as (kind, id, fd, events)
 * records.  Calling the callbacks is Python's job (pyvirt/eventloop.py), so the C side
 * never touches Python objects and cffi can drop the GIL for the whole wait.
 *
 * Semantics follow libvirt's poll loop (src/util/vireventpoll.c): watch and timer ids
 * start at 1 and are never reused; a watch with events == 0 is not polled; ERROR and
 * HANGUP are reported even when not asked for; due timers are reported before ready
 * handles, each group in id order; a timer of period 0 is due on every iteration, -1
 * (any negative) disables it, and a timer that fired is re-armed at now + period (no
 * catching up).  Unlike libvirt's poll loop there is no 20 ms early-firing fuzz: a timer
 * never fires before its deadline.  Changes made from a thread other than the one
 * waiting wake the wait (an eventfd), as virEventPollInterruptLocked does; and, as with
 * libvirt's current GLib loop (vireventglib.c retires sources via g_idle_add), removing a
 * watch or timer, changing a live watch's events or updating an enabled timer makes the
 * next wait return without blocking.
 *
 * Each loop is a self-contained object with its own mutex; there is no global state.
 * Fed to cffi's cdef by csrc/build_core.py (preprocessor lines other than integer
 * #defines are dropped).
 */
#ifndef PYVIRT_EVPOLL_H
#define PYVIRT_EVPOLL_H

#include <stdint.h>

/* record kinds */
#define PV_EV_TIMER 1
#define PV_EV_HANDLE 2

/* libvirt's virEventHandleType bits */
#define PV_EV_READABLE 1
#define PV_EV_WRITABLE 2
#define PV_EV_ERROR 4
#define PV_EV_HANGUP 8

/* Bounds: the fd table is indexed by fd (like libev's), so fds must be below
 * PV_EV_MAX_FD (Linux's default fs.nr_open); at most PV_EV_MAX_ENTRIES watches and as
 * many timers per loop; at most PV_EV_BATCH epoll events per wait. */
#define PV_EV_MAX_FD 1048576
#define PV_EV_MAX_ENTRIES 1048576
#define PV_EV_BATCH 256

typedef struct pv_ev_loop pv_ev_loop;

struct pv_ev_ready {
    int32_t kind;       /* PV_EV_TIMER or PV_EV_HANDLE */
    int32_t id;         /* timer id or watch id */
    int32_t fd;         /* -1 for timers */
    int32_t events;     /* PV_EV_* bits for handles, 0 for timers */
};

/* Every int-returning call returns >= 0 on success or -errno. */
int pv_ev_new(pv_ev_loop **out);
void pv_ev_free(pv_ev_loop *loop);

int pv_ev_add_handle(pv_ev_loop *loop, int fd, int events);        /* watch id */
int pv_ev_update_handle(pv_ev_loop *loop, int watch, int events);  /* -ENOENT if unknown */
int pv_ev_remove_handle(pv_ev_loop *loop, int watch);              /* -ENOENT if unknown */
int pv_ev_add_timeout(pv_ev_loop *loop, int ms);                   /* timer id */
int pv_ev_update_timeout(pv_ev_loop *loop, int timer, int ms);     /* -ENOENT if unknown */
int pv_ev_remove_timeout(pv_ev_loop *loop, int timer);             /* -ENOENT if unknown */

/* now_ms >= 0 puts the loop on a scripted clock stuck at now_ms (tests step it by
 * calling again); now_ms < 0 goes back to CLOCK_MONOTONIC. */
int pv_ev_set_clock(pv_ev_loop *loop, int64_t now_ms);

/* *timeout_ms = milliseconds until the next timer is due (0 if overdue), or -1 when
 * no timer is enabled.  Returns 0 or -errno. */
int pv_ev_next_timeout(pv_ev_loop *loop, int *timeout_ms);

/* One step: wait (at most max_wait_ms, -1 = no cap) for a ready fd or a due timer,
 * re-arm the due timers and fill out[0..nout) with records.  Returns the number of
 * records (0 after a wakeup, a timeout with nothing due, or EINTR), or -EBUSY if
 * another thread is already waiting on this loop. */
int pv_ev_run_once(pv_ev_loop *loop, int max_wait_ms, struct pv_ev_ready *out, int nout);

/* Wake a current (or the next) wait from any thread. */
int pv_ev_interrupt(pv_ev_loop *loop);

/* Live watches (kind PV_EV_HANDLE) or timers (PV_EV_TIMER): debug leak counters. */
int pv_ev_count(pv_ev_loop *loop, int kind);

/* CLOCK_MONOTONIC in milliseconds, the clock the loop uses. */
int64_t pv_ev_now_ms(void);

#endif /* PYVIRT_EVPOLL_H */
