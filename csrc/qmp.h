/* qmp.h: QMP monitor socket I/O: connect, send, read newline-framed JSON, classify.
 *
 * QEMU's monitor protocol (docs/interop/qmp-spec.rst) is one JSON object per line in
 * each direction: a greeting {"QMP": ...}, then replies {"return": ..., "id": ...} or
 * {"error": {...}, "id": ...} to commands, and asynchronous events {"event": "NAME",
 * "data": ..., "timestamp": ...} interleaved anywhere.  This hot path does the byte
 * work: it waits for and reads bytes without the GIL (cffi API mode releases it around
 * every call), cuts lines out of a caller-owned receive buffer, validates each line
 * as JSON (RFC 8259, strict: no NaN, no BOM, valid UTF-8) and reports what the
 * router needs: the kind of message, its integer "id", and an event's name.  Building
 * Python objects from the JSON is left to Python, and only when the value is needed.
 *
 * No global state: a connection is an fd plus a struct pv_qmp_rx the caller owns;
 * every call returns a count (>= 0) or -errno.  Deadlines are in milliseconds: < 0
 * waits forever, 0 never waits.
 *
 * Waiting: on a blocking fd, a reply is awaited in one blocking recv() bounded by
 * SO_RCVTIMEO (set only when the deadline calls for another value, with up to 1 s of
 * slack on deadlines over 5 s): send + recv, two system calls per round trip, as a
 * plain blocking client makes.  On a non-blocking fd: recv, poll, recv.
 *
 * Fed to cffi's cdef by csrc/build_core.py (preprocessor lines other than integer
 * #defines are dropped).
 */
#ifndef PYVIRT_QMP_H
#define PYVIRT_QMP_H

#include <stdint.h>

/* message kinds (struct pv_qmp_msg.kind) */
/* a JSON object with none of the keys below */
#define PV_QMP_OTHER 0
/* has "return" */
#define PV_QMP_RETURN 1
/* has "error" (wins over "return") */
#define PV_QMP_ERROR 2
/* has "event" with a string value */
#define PV_QMP_EVENT 3
/* has "QMP" */
#define PV_QMP_GREETING 4
/* valid JSON, but not an object */
#define PV_QMP_NOT_OBJECT 5

/* struct pv_qmp_msg.has_id */
#define PV_QMP_ID_ABSENT 0
/* an integer that fits int64: in .id */
#define PV_QMP_ID_INT 1
/* present, but not such an integer */
#define PV_QMP_ID_OTHER 2

/* Bounds: nesting deeper than PV_QMP_MAX_DEPTH is refused (-EPROTO); the caller's
 * receive buffer may be at most PV_QMP_MAX_BUF bytes (a longer line: -EMSGSIZE, the
 * caller grows its buffer up to this bound and calls again). */
#define PV_QMP_MAX_DEPTH 512
#define PV_QMP_MAX_BUF 268435456
/* at most this many fds passed with one command (pv_qmp_send_fds) */
#define PV_QMP_MAX_FDS 16

struct pv_qmp_rx {          /* receive state, owned and allocated by the caller */
    char *buf;              /* cap bytes */
    uint32_t cap;
    uint32_t start;         /* unread data is buf[start..end) */
    uint32_t end;
    uint32_t scanned;       /* buf[start..scanned) is known to hold no newline */
    int32_t rcvtimeo_ms;    /* the fd's SO_RCVTIMEO as last set here; -2: unknown */
};

struct pv_qmp_msg {         /* what pv_qmp_recv / pv_qmp_classify found */
    uint32_t off;           /* the line, without its "\n" and a "\r" before it: */
    uint32_t len;           /*   buf[off..off+len) (classify: data[off..off+len)) */
    int32_t kind;           /* PV_QMP_* kind */
    int32_t has_id;         /* PV_QMP_ID_* */
    int64_t id;
    uint32_t name_off;      /* event: the name's characters between the quotes, */
    uint32_t name_len;      /*   relative to off (escapes left as written) */
    uint32_t first;         /* offset of the first non-blank byte, relative to off */
    uint32_t nonempty;      /* 1: an object with at least one key */
};

/* Connect to the unix socket at path (at most 107 bytes), waiting at most timeout_ms
 * for a listener that accepts slowly.  Returns a non-blocking, close-on-exec fd. */
int pv_qmp_connect(const char *path, int timeout_ms);

/* Write all of data[0..len) before the deadline: len, -ETIMEDOUT, -EPIPE, ... */
int pv_qmp_send(int fd, const char *data, uint32_t len, int timeout_ms);

/* As pv_qmp_send, passing fds[0..nfds) with the first byte (SCM_RIGHTS), the way
 * QMP's getfd and add-fd receive file descriptors. */
int pv_qmp_send_fds(int fd, const char *data, uint32_t len, const int *fds, uint32_t nfds,
                    int timeout_ms);

/* The next complete line already in rx, classified: 1 (msg filled), 0 (no complete
 * line yet), -EPROTO (the line is not valid JSON; it is consumed and msg->off/len
 * still locate it), -EMSGSIZE (rx->buf is full without a newline: grow it). */
int pv_qmp_next(struct pv_qmp_rx *rx, struct pv_qmp_msg *msg);

/* Read until one line is complete, then as pv_qmp_next.  -ETIMEDOUT at the deadline,
 * -ECONNRESET when the peer closed the connection (after its last complete line). */
int pv_qmp_recv(int fd, struct pv_qmp_rx *rx, int timeout_ms, struct pv_qmp_msg *msg);

/* Send a command, then as pv_qmp_recv (one message: the caller loops until its reply;
 * events that come first are returned first).  One call, one GIL release. */
int pv_qmp_transact(int fd, const char *data, uint32_t len, struct pv_qmp_rx *rx,
                    int timeout_ms, struct pv_qmp_msg *msg);

/* Classify one JSON text data[0..len) (no framing): 0 or -EPROTO.  msg->off is 0 and
 * msg->len is len minus a trailing "\r". */
int pv_qmp_classify(const char *data, uint32_t len, struct pv_qmp_msg *msg);

#endif /* PYVIRT_QMP_H */
