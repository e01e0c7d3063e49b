/* evpoll.c: epoll + timer table behind pyvirt's default event loop (see evpoll.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "evpoll.h"

#define WAKE_TAG UINT64_MAX         /* epoll data of the wakeup eventfd */
#define ALL_EVENTS (PV_EV_READABLE | PV_EV_WRITABLE | PV_EV_ERROR | PV_EV_HANGUP)

struct hent {           /* one watch; the array is sorted by watch id */
    int32_t watch, fd, events;
    int32_t next;       /* next watch on the same fd, 0 at the end */
};

struct tent {           /* one timer; the array is sorted by timer id */
    int32_t id, ms;
    int64_t expires;
};

struct fdent {          /* per fd: its chain of watches and what epoll knows */
    int32_t head;
    uint32_t mask;      /* epoll events registered */
    int in_epoll;
};

struct pv_ev_loop {
    pthread_mutex_t lock;
    int epfd, wakefd;
    struct hent *h;
    size_t nh, caph;
    struct tent *t;
    size_t nt, capt;
    struct fdent *fds;
    size_t nfds;
    int32_t next_watch, next_timer;
    int64_t manual_now; /* >= 0: a scripted clock (tests), else CLOCK_MONOTONIC */
    int running;        /* a thread is inside pv_ev_run_once */
    pthread_t leader;   /* ... and this is the one */
    struct epoll_event evs[PV_EV_BATCH];
};

int64_t pv_ev_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int pv_ev_new(pv_ev_loop **out)
{
    pv_ev_loop *l;
    struct epoll_event ev;
    int err;

    if (!out)
        return -EINVAL;
    *out = NULL;
    l = calloc(1, sizeof(*l));
    if (!l)
        return -ENOMEM;
    l->epfd = l->wakefd = -1;
    l->next_watch = l->next_timer = 1;
    l->manual_now = -1;
    if ((err = pthread_mutex_init(&l->lock, NULL)) != 0) {
        free(l);
        return -err;
    }
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0)
        goto fail;
    l->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (l->wakefd < 0)
        goto fail;
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN;
    ev.data.u64 = WAKE_TAG;
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->wakefd, &ev) < 0)
        goto fail;
    *out = l;
    return 0;

 fail:
    err = errno;
    pv_ev_free(l);
    return -err;
}

void pv_ev_free(pv_ev_loop *l)
{
    if (!l)
        return;
    if (l->wakefd >= 0)
        close(l->wakefd);
    if (l->epfd >= 0)
        close(l->epfd);
    free(l->h);
    free(l->t);
    free(l->fds);
    pthread_mutex_destroy(&l->lock);
    free(l);
}

/* Grow *arr (elements of size `sz`) so that it can hold `need` of them. */
static int grow(void **arr, size_t *cap, size_t need, size_t sz, size_t max)
{
    size_t ncap = *cap ? *cap : 16;
    void *p;
    if (need <= *cap)
        return 0;
    if (need > max)
        return -ENOSPC;
    while (ncap < need)
        ncap *= 2;
    if (ncap > max)
        ncap = max;
    p = realloc(*arr, ncap * sz);
    if (!p)
        return -ENOMEM;
    *arr = p;
    *cap = ncap;
    return 0;
}

/* Index of watch `id` in l->h, or -1.  Ids only grow, so the array stays sorted. */
static long find_handle(const pv_ev_loop *l, int32_t id)
{
    size_t lo = 0, hi = l->nh;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (l->h[mid].watch < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (lo < l->nh && l->h[lo].watch == id) ? (long)lo : -1;
}

static long find_timer(const pv_ev_loop *l, int32_t id)
{
    size_t lo = 0, hi = l->nt;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (l->t[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (lo < l->nt && l->t[lo].id == id) ? (long)lo : -1;
}

/* Wake the waiting thread when someone else changed what it waits for. */
static void wake_if_other(pv_ev_loop *l)
{
    uint64_t one = 1;
    if (l->running && !pthread_equal(l->leader, pthread_self()))
        (void)!write(l->wakefd, &one, sizeof(one));
}

/* libvirt >= 6.1 (vireventglib.c) retires a removed or replaced GLib source through
 * g_idle_add(), so the next virEventRunDefaultImpl() returns without blocking; callers
 * rely on that (e.g. a timer removing itself, then "run a few iterations").  The same
 * observable rule here: retiring a live registration makes the next wait return. */
static void wake_next(pv_ev_loop *l)
{
    uint64_t one = 1;
    (void)!write(l->wakefd, &one, sizeof(one));
}

/* Make epoll's interest in `fd` the union of its watches' events. */
static int fd_sync(pv_ev_loop *l, int fd)
{
    struct fdent *f = &l->fds[fd];
    struct epoll_event ev;
    int32_t w;
    int any = 0;
    uint32_t mask = 0;

    for (w = f->head; w; ) {
        const struct hent *h = &l->h[find_handle(l, w)];
        any |= h->events;
        w = h->next;
    }
    if (any & PV_EV_READABLE)
        mask |= EPOLLIN;
    if (any & PV_EV_WRITABLE)
        mask |= EPOLLOUT;
    /* EPOLLERR and EPOLLHUP are always reported, so an ERROR/HANGUP-only watch is
     * registered with an empty mask, as poll() would report POLLERR/POLLHUP. */
    if (!any) {
        if (f->in_epoll)
            (void)epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);  /* fd may be closed */
        f->in_epoll = 0;
        return 0;
    }
    if (f->in_epoll && f->mask == mask)
        return 0;
    memset(&ev, 0, sizeof(ev));
    ev.events = mask;
    ev.data.u64 = (uint64_t)fd;
    /* Our idea of the registration can be stale if the caller closed and reopened the
     * fd number behind our back; try the other operation before giving up. */
    if (f->in_epoll) {
        if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 &&
            (errno != ENOENT || epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0))
            return -errno;
    } else {
        if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 &&
            (errno != EEXIST || epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0))
            return -errno;
    }
    f->in_epoll = 1;
    f->mask = mask;
    return 0;
}

static void unlink_watch(pv_ev_loop *l, long idx)
{
    struct fdent *f = &l->fds[l->h[idx].fd];
    int32_t id = l->h[idx].watch, next = l->h[idx].next;
    if (f->head == id) {
        f->head = next;
    } else {
        int32_t w = f->head;
        while (w) {
            struct hent *h = &l->h[find_handle(l, w)];
            if (h->next == id) {
                h->next = next;
                break;
            }
            w = h->next;
        }
    }
}

static void drop_handle(pv_ev_loop *l, long idx)
{
    memmove(&l->h[idx], &l->h[idx + 1], (l->nh - (size_t)idx - 1) * sizeof(l->h[0]));
    l->nh--;
}

int pv_ev_add_handle(pv_ev_loop *l, int fd, int events)
{
    int rc;
    long idx;
    struct hent *h;
    if (!l || fd < 0 || (events & ~ALL_EVENTS))
        return fd < 0 ? -EBADF : -EINVAL;
    if (fd >= PV_EV_MAX_FD)
        return -ERANGE;
    pthread_mutex_lock(&l->lock);
    if (l->next_watch == INT32_MAX) {
        rc = -EOVERFLOW;
        goto out;
    }
    if ((size_t)fd >= l->nfds) {
        size_t old = l->nfds;
        rc = grow((void **)&l->fds, &l->nfds, (size_t)fd + 1, sizeof(l->fds[0]), PV_EV_MAX_FD);
        if (rc < 0)
            goto out;
        memset(&l->fds[old], 0, (l->nfds - old) * sizeof(l->fds[0]));
    }
    rc = grow((void **)&l->h, &l->caph, l->nh + 1, sizeof(l->h[0]), PV_EV_MAX_ENTRIES);
    if (rc < 0)
        goto out;
    idx = (long)l->nh++;
    h = &l->h[idx];
    h->watch = l->next_watch;
    h->fd = fd;
    h->events = events;
    h->next = l->fds[fd].head;
    l->fds[fd].head = h->watch;
    rc = fd_sync(l, fd);
    if (rc < 0) {           /* e.g. EBADF, or EPERM for a regular file: undo */
        unlink_watch(l, idx);
        drop_handle(l, idx);
        goto out;
    }
    rc = l->next_watch++;
    wake_if_other(l);
 out:
    pthread_mutex_unlock(&l->lock);
    return rc;
}

int pv_ev_update_handle(pv_ev_loop *l, int watch, int events)
{
    int rc, old;
    long idx;
    if (!l || (events & ~ALL_EVENTS))
        return -EINVAL;
    pthread_mutex_lock(&l->lock);
    idx = find_handle(l, watch);
    if (idx < 0) {
        rc = -ENOENT;
        goto out;
    }
    old = l->h[idx].events;
    l->h[idx].events = events;
    rc = fd_sync(l, l->h[idx].fd);
    if (rc < 0) {
        l->h[idx].events = old;
        goto out;
    }
    if (old && old != events)
        wake_next(l);
    else
        wake_if_other(l);
 out:
    pthread_mutex_unlock(&l->lock);
    return rc;
}

int pv_ev_remove_handle(pv_ev_loop *l, int watch)
{
    int rc = 0, fd;
    long idx;
    if (!l)
        return -EINVAL;
    pthread_mutex_lock(&l->lock);
    idx = find_handle(l, watch);
    if (idx < 0) {
        rc = -ENOENT;
        goto out;
    }
    fd = l->h[idx].fd;
    unlink_watch(l, idx);
    drop_handle(l, idx);
    (void)fd_sync(l, fd);   /* only ever narrows the interest; failures are harmless */
    wake_next(l);
 out:
    pthread_mutex_unlock(&l->lock);
    return rc;
}

static int64_t now_of(const pv_ev_loop *l)
{
    return l->manual_now >= 0 ? l->manual_now : pv_ev_now_ms();
}

int pv_ev_set_clock(pv_ev_loop *l, int64_t now_ms)
{
    if (!l)
        return -EINVAL;
    pthread_mutex_lock(&l->lock);
    l->manual_now = now_ms >= 0 ? now_ms : -1;
    pthread_mutex_unlock(&l->lock);
    return 0;
}

int pv_ev_add_timeout(pv_ev_loop *l, int ms)
{
    int rc;
    struct tent *t;
    if (!l)
        return -EINVAL;
    pthread_mutex_lock(&l->lock);
    if (l->next_timer == INT32_MAX) {
        rc = -EOVERFLOW;
        goto out;
    }
    rc = grow((void **)&l->t, &l->capt, l->nt + 1, sizeof(l->t[0]), PV_EV_MAX_ENTRIES);
    if (rc < 0)
        goto out;
    t = &l->t[l->nt++];
    t->id = l->next_timer;
    t->ms = ms < 0 ? -1 : ms;
    t->expires = ms < 0 ? 0 : now_of(l) + ms;
    rc = l->next_timer++;
    wake_if_other(l);
 out:
    pthread_mutex_unlock(&l->lock);
    return rc;
}

int pv_ev_update_timeout(pv_ev_loop *l, int timer, int ms)
{
    long idx;
    int rc = 0;
    if (!l)
        return -EINVAL;
    pthread_mutex_lock(&l->lock);
    idx = find_timer(l, timer);
    if (idx < 0) {
        rc = -ENOENT;
    } else {
        /* Like libvirt: an update restarts the period from now. */
        int was_enabled = l->t[idx].ms >= 0;
        l->t[idx].ms = ms < 0 ? -1 : ms;
        l->t[idx].expires = ms < 0 ? 0 : now_of(l) + ms;
        if (was_enabled)
            wake_next(l);
        else
            wake_if_other(l);
    }
    pthread_mutex_unlock(&l->lock);
    return rc;
}

int pv_ev_remove_timeout(pv_ev_loop *l, int timer)
{
    long idx;
    int rc = 0;
    if (!l)
        return -EINVAL;
    pthread_mutex_lock(&l->lock);
    idx = find_timer(l, timer);
    if (idx < 0) {
        rc = -ENOENT;
    } else {
        memmove(&l->t[idx], &l->t[idx + 1], (l->nt - (size_t)idx - 1) * sizeof(l->t[0]));
        l->nt--;
        wake_next(l);
    }
    pthread_mutex_unlock(&l->lock);
    return rc;
}

static int next_timeout_locked(const pv_ev_loop *l, int64_t now)
{
    size_t i;
    int found = 0;
    int64_t first = 0, d;
    for (i = 0; i < l->nt; i++) {
        if (l->t[i].ms < 0)
            continue;
        if (!found || l->t[i].expires < first)
            first = l->t[i].expires;
        found = 1;
    }
    if (!found)
        return -1;
    d = first - now;
    return d <= 0 ? 0 : (d > INT_MAX ? INT_MAX : (int)d);
}

int pv_ev_next_timeout(pv_ev_loop *l, int *timeout_ms)
{
    if (!l || !timeout_ms)
        return -EINVAL;
    pthread_mutex_lock(&l->lock);
    *timeout_ms = next_timeout_locked(l, now_of(l));
    pthread_mutex_unlock(&l->lock);
    return 0;
}

static int from_native(uint32_t ev)
{
    return ((ev & EPOLLIN) ? PV_EV_READABLE : 0) | ((ev & EPOLLOUT) ? PV_EV_WRITABLE : 0) |
           ((ev & EPOLLERR) ? PV_EV_ERROR : 0) | ((ev & EPOLLHUP) ? PV_EV_HANGUP : 0);
}

/* Handle records come out of epoll in readiness order; libvirt dispatches in
 * registration (= id) order, and so do we.  Batches are small: insertion sort. */
static void sort_by_id(struct pv_ev_ready *r, int n)
{
    int i, j;
    for (i = 1; i < n; i++) {
        struct pv_ev_ready v = r[i];
        for (j = i; j > 0 && r[j - 1].id > v.id; j--)
            r[j] = r[j - 1];
        r[j] = v;
    }
}

int pv_ev_run_once(pv_ev_loop *l, int max_wait_ms, struct pv_ev_ready *out, int nout)
{
    int timeout, n, err, count = 0, first_handle, i;
    int64_t now;
    size_t k;

    if (!l || !out || nout <= 0)
        return -EINVAL;
    pthread_mutex_lock(&l->lock);
    if (l->running) {
        pthread_mutex_unlock(&l->lock);
        return -EBUSY;
    }
    l->running = 1;
    l->leader = pthread_self();
    timeout = next_timeout_locked(l, now_of(l));
    if (max_wait_ms >= 0 && (timeout < 0 || timeout > max_wait_ms))
        timeout = max_wait_ms;
    pthread_mutex_unlock(&l->lock);

    /* The only blocking call; the lock is free so other threads can add, remove and
     * interrupt while we wait (cffi has released the GIL around this function). */
    n = epoll_wait(l->epfd, l->evs, nout < PV_EV_BATCH ? nout : PV_EV_BATCH, timeout);
    err = errno;

    pthread_mutex_lock(&l->lock);
    l->running = 0;
    if (n < 0) {
        pthread_mutex_unlock(&l->lock);
        return err == EINTR ? 0 : -err;    /* EINTR: let Python run signal handlers */
    }
    now = now_of(l);
    for (k = 0; k < l->nt && count < nout; k++) {
        struct tent *t = &l->t[k];
        if (t->ms >= 0 && t->expires <= now) {
            t->expires = now + t->ms;
            out[count].kind = PV_EV_TIMER;
            out[count].id = t->id;
            out[count].fd = -1;
            out[count].events = 0;
            count++;
        }
    }
    first_handle = count;
    for (i = 0; i < n; i++) {
        uint64_t tag = l->evs[i].data.u64, junk;
        int fd, revents;
        int32_t w;
        if (tag == WAKE_TAG) {
            (void)!read(l->wakefd, &junk, sizeof(junk));
            continue;
        }
        fd = (int)tag;
        if ((size_t)fd >= l->nfds)
            continue;
        revents = from_native(l->evs[i].events);
        /* Records that do not fit are dropped: epoll is level-triggered, so the fd is
         * reported again on the next iteration. */
        for (w = l->fds[fd].head; w && count < nout; ) {
            const struct hent *h = &l->h[find_handle(l, w)];
            int ev = revents & (h->events | PV_EV_ERROR | PV_EV_HANGUP);
            if (h->events && ev) {
                out[count].kind = PV_EV_HANDLE;
                out[count].id = h->watch;
                out[count].fd = fd;
                out[count].events = ev;
                count++;
            }
            w = h->next;
        }
    }
    sort_by_id(out + first_handle, count - first_handle);
    pthread_mutex_unlock(&l->lock);
    return count;
}

int pv_ev_interrupt(pv_ev_loop *l)
{
    uint64_t one = 1;
    if (!l)
        return -EINVAL;
    /* EAGAIN means the counter is already non-zero: a wakeup is pending anyway. */
    if (write(l->wakefd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        return -errno;
    return 0;
}

int pv_ev_count(pv_ev_loop *l, int kind)
{
    int rc;
    if (!l)
        return -EINVAL;
    pthread_mutex_lock(&l->lock);
    rc = kind == PV_EV_HANDLE ? (int)l->nh : kind == PV_EV_TIMER ? (int)l->nt : -EINVAL;
    pthread_mutex_unlock(&l->lock);
    return rc;
}
