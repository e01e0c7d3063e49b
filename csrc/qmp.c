/* qmp.c: QMP socket I/O, line framing and strict JSON classification (see qmp.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "qmp.h"

typedef const unsigned char *cur;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds left before `deadline` (-1: none), for poll(). */
static int left_ms(int64_t deadline)
{
    int64_t left;
    if (deadline < 0)
        return -1;
    left = deadline - now_ms();
    if (left <= 0)
        return 0;
    return left > 0x7fffffff ? 0x7fffffff : (int)left;
}

static int64_t deadline_of(int timeout_ms)
{
    return timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
}

/* Wait for `events` on fd: 1 ready, 0 deadline passed, -errno. */
static int wait_fd(int fd, short events, int64_t deadline)
{
    struct pollfd p;
    int rc;
    for (;;) {
        int ms = left_ms(deadline);
        if (deadline >= 0 && ms == 0)
            return 0;
        p.fd = fd;
        p.events = events;
        p.revents = 0;
        rc = poll(&p, 1, ms);
        if (rc > 0)
            return 1;   /* ready, or HUP/ERR: the next read/write says which */
        if (rc == 0)
            return 0;
        if (errno != EINTR)
            return -errno;
    }
}

/* ---- strict JSON scanning ---- */

static cur skip_ws(cur p, cur end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* One UTF-8 sequence starting at *pp (RFC 3629: no overlongs, no surrogates, at most
 * U+10FFFF).  Advances *pp; 0 or -1. */
static int utf8_seq(cur *pp, cur end)
{
    cur p = *pp;
    unsigned c = p[0], n, i, lo = 0x80, hi = 0xBF;
    if (c < 0x80) {
        *pp = p + 1;
        return 0;
    }
    if (c >= 0xC2 && c <= 0xDF)
        n = 1;
    else if (c >= 0xE0 && c <= 0xEF) {
        n = 2;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 3;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else
        return -1;
    if ((size_t)(end - p) <= n)
        return -1;
    for (i = 1; i <= n; i++) {
        unsigned b = p[i];
        if (i == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF))
            return -1;
    }
    *pp = p + n + 1;
    return 0;
}

/* A string; *pp at its opening quote, left after its closing quote. */
static int scan_string(cur *pp, cur end)
{
    cur p = *pp + 1;
    while (p < end) {
        unsigned char c = *p;
        if (c == '"') {
            *pp = p + 1;
            return 0;
        }
        if (c < 0x20)
            return -1;
        if (c == '\\') {
            if (++p >= end)
                return -1;
            switch (*p) {
            case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
                p++;
                break;
            case 'u':
                if (end - p < 5 || hexval(p[1]) < 0 || hexval(p[2]) < 0 ||
                    hexval(p[3]) < 0 || hexval(p[4]) < 0)
                    return -1;
                p += 5;
                break;
            default:
                return -1;
            }
            continue;
        }
        if (c < 0x80) {
            p++;
            continue;
        }
        if (utf8_seq(&p, end) < 0)
            return -1;
    }
    return -1;
}

/* A number; *is_int and *val say whether it is an integer that fits int64. */
static int scan_number(cur *pp, cur end, int *is_int, int64_t *val)
{
    cur p = *pp;
    int neg = 0, ok = 1;
    uint64_t acc = 0, limit;
    if (p < end && *p == '-') {
        neg = 1;
        p++;
    }
    if (p >= end || *p < '0' || *p > '9')
        return -1;
    limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    if (*p == '0')
        p++;
    else
        while (p < end && *p >= '0' && *p <= '9') {
            unsigned d = (unsigned)(*p - '0');
            if (acc > (limit - d) / 10)
                ok = 0;
            else
                acc = acc * 10 + d;
            p++;
        }
    if (p < end && *p == '.') {
        ok = 0;
        if (++p >= end || *p < '0' || *p > '9')
            return -1;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        ok = 0;
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (p >= end || *p < '0' || *p > '9')
            return -1;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    *is_int = ok;
    if (ok)
        *val = neg ? (int64_t)(0 - acc) : (int64_t)acc;
    *pp = p;
    return 0;
}

static int scan_literal(cur *pp, cur end)
{
    static const char *const lits[] = {"true", "false", "null"};
    size_t i;
    for (i = 0; i < 3; i++) {
        size_t n = strlen(lits[i]);
        if ((size_t)(end - *pp) >= n && memcmp(*pp, lits[i], n) == 0) {
            *pp += n;
            return 0;
        }
    }
    return -1;
}

/* Any JSON value, iteratively; `depth` containers already enclose it. */
static int scan_value(cur *pp, cur end, int depth)
{
    unsigned char stack[PV_QMP_MAX_DEPTH / 8 + 1];   /* 1 bit per level: 1 = object */
    int top = 0;    /* containers opened here */
    cur p = *pp;
    int is_int;
    int64_t ignored;

value:
    p = skip_ws(p, end);
    if (p >= end)
        return -1;
    switch (*p) {
    case '{':
    case '[':
        if (depth + top + 1 > PV_QMP_MAX_DEPTH)
            return -1;
        if (*p == '{')
            stack[top / 8] |= (unsigned char)(1u << (top % 8));
        else
            stack[top / 8] &= (unsigned char)~(1u << (top % 8));
        top++;
        p = skip_ws(p + 1, end);
        if (p < end && (*p == '}' || *p == ']')) {
            int obj = (stack[(top - 1) / 8] >> ((top - 1) % 8)) & 1;
            if (*p != (obj ? '}' : ']'))
                return -1;
            top--;
            p++;
            goto after;
        }
        if (stack[(top - 1) / 8] >> ((top - 1) % 8) & 1)
            goto key;
        goto value;
    case '"':
        if (scan_string(&p, end) < 0)
            return -1;
        goto after;
    case 't': case 'f': case 'n':
        if (scan_literal(&p, end) < 0)
            return -1;
        goto after;
    default:
        if (scan_number(&p, end, &is_int, &ignored) < 0)
            return -1;
        goto after;
    }

key:
    p = skip_ws(p, end);
    if (p >= end || *p != '"' || scan_string(&p, end) < 0)
        return -1;
    p = skip_ws(p, end);
    if (p >= end || *p != ':')
        return -1;
    p++;
    goto value;

after:
    if (top == 0) {
        *pp = p;
        return 0;
    }
    p = skip_ws(p, end);
    if (p >= end)
        return -1;
    {
        int obj = (stack[(top - 1) / 8] >> ((top - 1) % 8)) & 1;
        if (*p == ',') {
            p++;
            if (obj)
                goto key;
            goto value;
        }
        if (*p == (obj ? '}' : ']')) {
            top--;
            p++;
            goto after;
        }
    }
    return -1;
}

static int key_is(cur k, size_t n, const char *want)
{
    return n == strlen(want) && memcmp(k, want, n) == 0;
}

int pv_qmp_classify(const char *data, uint32_t len, struct pv_qmp_msg *msg)
{
    cur base = (cur)data, p, end;
    int has_ret = 0, has_err = 0, has_ev = 0, has_qmp = 0;

    if (len > 0 && base[len - 1] == '\r')
        len--;
    end = base + len;
    msg->off = 0;
    msg->len = len;
    msg->kind = PV_QMP_OTHER;
    msg->has_id = PV_QMP_ID_ABSENT;
    msg->id = 0;
    msg->name_off = msg->name_len = 0;
    msg->nonempty = 0;
    p = skip_ws(base, end);
    msg->first = (uint32_t)(p - base);
    if (p >= end)
        return -EPROTO;
    if (*p != '{') {
        if (scan_value(&p, end, 0) < 0 || skip_ws(p, end) != end)
            return -EPROTO;
        msg->kind = PV_QMP_NOT_OBJECT;
        return 0;
    }
    p = skip_ws(p + 1, end);
    if (p < end && *p == '}') {
        p++;
        goto done;
    }
    for (;;) {
        cur k, v;
        size_t klen;
        p = skip_ws(p, end);
        if (p >= end || *p != '"')
            return -EPROTO;
        k = p + 1;
        if (scan_string(&p, end) < 0)
            return -EPROTO;
        klen = (size_t)(p - 1 - k);
        p = skip_ws(p, end);
        if (p >= end || *p != ':')
            return -EPROTO;
        p = skip_ws(p + 1, end);
        v = p;
        if (scan_value(&p, end, 1) < 0)
            return -EPROTO;
        msg->nonempty = 1;
        /* a repeated key: the last one counts, as in Python's json module */
        if (key_is(k, klen, "id")) {
            int is_int = 0;
            int64_t val = 0;
            cur q = v;
            if (v < end && (*v == '-' || (*v >= '0' && *v <= '9')) &&
                scan_number(&q, end, &is_int, &val) == 0 && is_int) {
                msg->has_id = PV_QMP_ID_INT;
                msg->id = val;
            } else {
                msg->has_id = PV_QMP_ID_OTHER;
                msg->id = 0;
            }
        } else if (key_is(k, klen, "return"))
            has_ret = 1;
        else if (key_is(k, klen, "error"))
            has_err = 1;
        else if (key_is(k, klen, "QMP"))
            has_qmp = 1;
        else if (key_is(k, klen, "event")) {
            if (*v == '"') {
                has_ev = 1;
                msg->name_off = (uint32_t)(v + 1 - base);
                msg->name_len = (uint32_t)(p - 1 - (v + 1));
            } else {
                has_ev = 0;
                msg->name_off = msg->name_len = 0;
            }
        }
        p = skip_ws(p, end);
        if (p >= end)
            return -EPROTO;
        if (*p == ',') {
            p++;
            continue;
        }
        if (*p == '}') {
            p++;
            break;
        }
        return -EPROTO;
    }
done:
    if (skip_ws(p, end) != end)
        return -EPROTO;
    if (has_err)
        msg->kind = PV_QMP_ERROR;
    else if (has_ret)
        msg->kind = PV_QMP_RETURN;
    else if (has_ev)
        msg->kind = PV_QMP_EVENT;
    else if (has_qmp)
        msg->kind = PV_QMP_GREETING;
    if (msg->kind != PV_QMP_EVENT)
        msg->name_off = msg->name_len = 0;
    return 0;
}

/* ---- framing and I/O ---- */

static int rx_ok(const struct pv_qmp_rx *rx)
{
    return rx && rx->buf && rx->cap > 0 && rx->cap <= PV_QMP_MAX_BUF && rx->rcvtimeo_ms >= -2 &&
           rx->start <= rx->scanned && rx->scanned <= rx->end && rx->end <= rx->cap;
}

int pv_qmp_next(struct pv_qmp_rx *rx, struct pv_qmp_msg *msg)
{
    char *nl;
    uint32_t off, len;
    int rc;

    if (!rx_ok(rx) || !msg)
        return -EINVAL;
    if (rx->start == rx->end) {
        rx->start = rx->end = rx->scanned = 0;
        return 0;
    }
    nl = memchr(rx->buf + rx->scanned, '\n', rx->end - rx->scanned);
    if (!nl) {
        rx->scanned = rx->end;
        if (rx->end == rx->cap && rx->start == 0)
            return -EMSGSIZE;
        return 0;
    }
    off = rx->start;
    len = (uint32_t)(nl - (rx->buf + off));
    rx->start = rx->scanned = (uint32_t)(nl - rx->buf) + 1;
    rc = pv_qmp_classify(rx->buf + off, len, msg);
    msg->off = off;
    return rc < 0 ? rc : 1;
}

/* Make the fd's SO_RCVTIMEO fit a wait of `left` ms (-1: none): 0, or -1 if it
 * cannot be set (then the caller polls). */
static int fit_rcvtimeo(int fd, struct pv_qmp_rx *rx, int left)
{
    struct timeval tv;
    int have = rx->rcvtimeo_ms;
    if (have == left)
        return 0;
    /* a little too long is fine on a long deadline; too short never is */
    if (left > 5000 && have > 0 && have >= left && have - left <= 1000)
        return 0;
    if (left < 0) {
        tv.tv_sec = 0;
        tv.tv_usec = 0;
    } else {
        if (left == 0)
            left = 1;
        tv.tv_sec = left / 1000;
        tv.tv_usec = (left % 1000) * 1000;
    }
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
        rx->rcvtimeo_ms = -2;
        return -1;
    }
    rx->rcvtimeo_ms = left;
    return 0;
}

static int recv_until(int fd, struct pv_qmp_rx *rx, int64_t deadline, int nowait,
                      struct pv_qmp_msg *msg)
{
    int polled = 0;
    for (;;) {
        ssize_t n;
        int rc = pv_qmp_next(rx, msg);
        if (rc != 0)
            return rc;
        if (rx->end == rx->cap) {       /* make room: move the partial line down */
            memmove(rx->buf, rx->buf + rx->start, rx->end - rx->start);
            rx->end -= rx->start;
            rx->scanned -= rx->start;
            rx->start = 0;
        }
        if (nowait || polled) {
            n = recv(fd, rx->buf + rx->end, rx->cap - rx->end, MSG_DONTWAIT);
            polled = 0;
        } else {
            int left = left_ms(deadline);
            if (deadline >= 0 && left == 0)
                return -ETIMEDOUT;
            if (fit_rcvtimeo(fd, rx, left) < 0)
                n = recv(fd, rx->buf + rx->end, rx->cap - rx->end, MSG_DONTWAIT);
            else    /* blocks on a blocking fd, returns EAGAIN at once on another */
                n = recv(fd, rx->buf + rx->end, rx->cap - rx->end, 0);
        }
        if (n > 0) {
            rx->end += (uint32_t)n;
            continue;
        }
        if (n == 0)
            return -ECONNRESET;
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return -errno;
        if (nowait)
            return -EAGAIN;
        if (deadline >= 0 && left_ms(deadline) == 0)
            return -ETIMEDOUT;
        rc = wait_fd(fd, POLLIN, deadline);     /* a non-blocking fd, or SO_RCVTIMEO hit */
        if (rc < 0)
            return rc;
        if (rc == 0)
            return -ETIMEDOUT;
        polled = 1;
    }
}

int pv_qmp_recv(int fd, struct pv_qmp_rx *rx, int timeout_ms, struct pv_qmp_msg *msg)
{
    return recv_until(fd, rx, deadline_of(timeout_ms), timeout_ms == 0, msg);
}

static int send_all(int fd, const char *data, uint32_t len, int64_t deadline)
{
    uint32_t done = 0;
    while (done < len) {
        ssize_t n = send(fd, data + done, len - done, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            done += (uint32_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int rc = wait_fd(fd, POLLOUT, deadline);
            if (rc < 0)
                return rc;
            if (rc == 0)
                return -ETIMEDOUT;
            continue;
        }
        return n < 0 ? -errno : -EIO;
    }
    return (int)len;
}

int pv_qmp_send_fds(int fd, const char *data, uint32_t len, const int *fds, uint32_t nfds,
                    int timeout_ms)
{
    int64_t deadline = deadline_of(timeout_ms);
    union {
        char buf[CMSG_SPACE(sizeof(int) * PV_QMP_MAX_FDS)];
        struct cmsghdr align;
    } u;
    struct msghdr mh;
    struct iovec iov;
    struct cmsghdr *c;
    ssize_t n;
    int rc;

    if (!data || len == 0 || len > 0x7fffffff || nfds > PV_QMP_MAX_FDS || (nfds && !fds))
        return -EINVAL;
    if (nfds == 0)
        return send_all(fd, data, len, deadline);
    for (;;) {
        memset(&mh, 0, sizeof(mh));
        memset(&u, 0, sizeof(u));
        iov.iov_base = (void *)data;
        iov.iov_len = 1;            /* the fds travel with the first byte */
        mh.msg_iov = &iov;
        mh.msg_iovlen = 1;
        mh.msg_control = u.buf;
        mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
        c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
        n = sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n == 1)
            break;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            rc = wait_fd(fd, POLLOUT, deadline);
            if (rc < 0)
                return rc;
            if (rc == 0)
                return -ETIMEDOUT;
            continue;
        }
        return n < 0 ? -errno : -EIO;
    }
    if (len == 1)
        return 1;
    rc = send_all(fd, data + 1, len - 1, deadline);
    return rc < 0 ? rc : (int)len;
}

int pv_qmp_send(int fd, const char *data, uint32_t len, int timeout_ms)
{
    if (!data || len > 0x7fffffff)
        return -EINVAL;
    return send_all(fd, data, len, deadline_of(timeout_ms));
}

int pv_qmp_transact(int fd, const char *data, uint32_t len, struct pv_qmp_rx *rx,
                    int timeout_ms, struct pv_qmp_msg *msg)
{
    int64_t deadline = deadline_of(timeout_ms);
    int rc;
    if (!data || len > 0x7fffffff || !rx_ok(rx) || !msg)
        return -EINVAL;
    rc = send_all(fd, data, len, deadline);
    if (rc < 0)
        return rc;
    return recv_until(fd, rx, deadline, 0, msg);
}

int pv_qmp_connect(const char *path, int timeout_ms)
{
    struct sockaddr_un sa;
    size_t n;
    int fd, rc;
    int64_t deadline = deadline_of(timeout_ms);

    if (!path)
        return -EINVAL;
    n = strlen(path);
    if (n == 0 || n >= sizeof(sa.sun_path))
        return -ENAMETOOLONG;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, n);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    for (;;) {
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
            return fd;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN) {
            /* a unix listener with a full backlog: wait for room, then try again */
            rc = wait_fd(fd, POLLOUT, deadline);
            if (rc > 0)
                continue;
            rc = rc < 0 ? rc : -ETIMEDOUT;
        } else if (errno == EINPROGRESS) {
            int err = 0;
            socklen_t el = sizeof(err);
            rc = wait_fd(fd, POLLOUT, deadline);
            if (rc > 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 && !err)
                return fd;
            rc = rc < 0 ? rc : rc == 0 ? -ETIMEDOUT : -(err ? err : errno);
        } else
            rc = -errno;
        close(fd);
        return rc;
    }
}
