/*
 * loadgen — a pipelining load generator for jobkernel (JSON-RPC 2.0 over NDJSON on a Unix
 * socket) and, for comparison, beanstalkd (text protocol over TCP).
 *
 * Standard C + POSIX only. One thread, poll() over every connection; each connection keeps a
 * window of requests in flight. Build: cc -O2 -o loadgen loadgen.c
 *
 * Modes
 *   enqueue          durable enqueue throughput: N producer connections, each keeping -W enqueues
 *                    in flight; counts success responses per second (+ enqueue→response latency).
 *   cycle            enqueue → fetch → ack with no-op work. -c producers (window -W), -w workers
 *                    each keeping -F fetches {types:["bench"],max:-m,wait_s:1} in flight and acking
 *                    every lease at once (pipelined). Jobs in the system (enqueued, not yet acked) are
 *                    capped at -C, so this is a closed loop and latency is not queue growth.
 *                    Reports completed jobs/s and latency enqueue-sent → ack-response p50/p99.
 *   latency          idle kernel: one worker long-polls fetch {wait_s:5}; one producer enqueues one job
 *                    at a time (1 ms after the fetch was sent); sample = enqueue sent → fetch
 *                    response received. -n samples.
 *   beanstalk-put    like enqueue, with `put` (tube "bench").
 *   (-T NAME: every mode uses the job type / tube NAME instead of "bench", e.g. a cycle of its own
 *   beside jobs left pending under "bench".)
 *   (enqueue and beanstalk-put take -N COUNT: send exactly COUNT jobs and exit once all are
 *   answered, e.g. to fill a queue with 1,000,000 pending jobs.)
 * Every job body, kernel payload or beanstalkd job, is {"n":i,"p":"xx…"}, 40 bytes.
 *   beanstalk-cycle  like cycle: put / reserve-with-timeout 1 (-F reserves pipelined per worker) /
 *                    delete; latency = put sent → DELETED received.
 *   beanstalk-latency  like latency: worker blocked in reserve-with-timeout 5, one put at a time;
 *                    sample = put sent → RESERVED received.
 *
 * Output: one line on stdout
 *   RESULT mode=… secs=… ops=… rate=… p50_us=… p99_us=… max_us=… errors=…
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

enum { M_ENQ, M_CYCLE, M_LAT, M_BPUT, M_BCYCLE, M_BLAT };
enum { R_PROD, R_WORK };
/* beanstalk FIFO entry kinds (responses come back in command order per connection) */
enum { K_PUT = 1, K_RESERVE, K_DELETE, K_OTHER };

#define ACK_BASE 1000000000000LL   /* ack request ids: ACK_BASE + job index */
#define FETCH_BASE 2000000000000LL /* fetch request ids */
#define FIFO_CAP (1u << 17)

typedef struct {
    int fd, role;
    char *rb; size_t rlen, rcap;
    char *wb; size_t wlen, woff, wcap;
    int inflight;           /* producer: requests in flight; worker: fetches/reserves in flight */
    uint64_t *fifo; unsigned fh, ft; /* beanstalk: pending command kinds (kind<<56 | index) */
} conn_t;

static int mode;
static const char *sock_path = NULL;
static const char *qname = "bench"; /* -T: the kernel job type, or the beanstalkd tube */
static const char *host = "127.0.0.1";
static int port = 11300;
static int nprod = 4, nwork = 4, window = 256, fetch_max = 64, fetch_depth = 2, cap = 8192;
static double duration = 5, warmup = 1;
static long samples_target = 2000;
static long long total = 0; /* -N: enqueue/put exactly this many jobs, then exit (fill mode) */

static uint64_t *t_send; static size_t t_cap;
static long long next_i = 0;
static long in_sys = 0;
static long long done = 0, errors = 0;
static uint64_t *lat; static size_t lat_n, lat_cap;
static uint64_t t_measure0, t_measure1;

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *m) { perror(m); exit(1); }

static void *xrealloc(void *p, size_t n) {
    void *q = realloc(p, n);
    if (!q) { fprintf(stderr, "out of memory\n"); exit(1); }
    return q;
}

static void record_send(long long i, uint64_t t) {
    if ((size_t)i >= t_cap) {
        size_t nc = t_cap ? t_cap * 2 : 1 << 20;
        while (nc <= (size_t)i) nc *= 2;
        t_send = xrealloc(t_send, nc * sizeof *t_send);
        t_cap = nc;
    }
    t_send[i] = t;
}

static int in_window(uint64_t t) { return t >= t_measure0 && t < t_measure1; }

static void add_sample(uint64_t d) {
    if (lat_n == lat_cap) { lat_cap = lat_cap ? lat_cap * 2 : 1 << 16; lat = xrealloc(lat, lat_cap * sizeof *lat); }
    lat[lat_n++] = d;
}

static void complete(long long i, uint64_t t) {
    if (!in_window(t)) return;
    done++;
    if (i >= 0 && (size_t)i < t_cap) add_sample(t - t_send[i]);
}

/* ---------- connections ---------- */

static int connect_unix(void) {
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0) die("socket");
    struct sockaddr_un a; memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    strncpy(a.sun_path, sock_path, sizeof a.sun_path - 1);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) die("connect (unix)");
    return fd;
}

static int connect_tcp(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) die("socket");
    struct sockaddr_in a; memset(&a, 0, sizeof a);
    a.sin_family = AF_INET; a.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1) { fprintf(stderr, "bad host %s\n", host); exit(1); }
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) die("connect (tcp)");
    int one = 1; setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static int is_beanstalk(void) { return mode >= M_BPUT; }

static void conn_init(conn_t *c, int role) {
    memset(c, 0, sizeof *c);
    c->fd = is_beanstalk() ? connect_tcp() : connect_unix();
    c->role = role;
    c->rcap = 1 << 20; c->rb = xrealloc(NULL, c->rcap);
    c->wcap = 1 << 16; c->wb = xrealloc(NULL, c->wcap);
    if (is_beanstalk()) c->fifo = xrealloc(NULL, FIFO_CAP * sizeof *c->fifo);
}

static void set_nonblock(conn_t *c) { fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK); }

static void wput(conn_t *c, const char *s, size_t n) {
    if (c->wlen + n > c->wcap) {
        if (c->woff) { memmove(c->wb, c->wb + c->woff, c->wlen - c->woff); c->wlen -= c->woff; c->woff = 0; }
        while (c->wlen + n > c->wcap) c->wcap *= 2;
        c->wb = xrealloc(c->wb, c->wcap);
    }
    memcpy(c->wb + c->wlen, s, n);
    c->wlen += n;
}

static void fifo_push(conn_t *c, int kind, long long i) {
    if (c->ft - c->fh >= FIFO_CAP) { fprintf(stderr, "fifo overflow\n"); exit(1); }
    c->fifo[c->ft++ % FIFO_CAP] = ((uint64_t)kind << 56) | (uint64_t)(i & 0xffffffffffffffLL);
}

static void flush(conn_t *c) {
    while (c->woff < c->wlen) {
        ssize_t n = write(c->fd, c->wb + c->woff, c->wlen - c->woff);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) return;
            if (errno == EINTR) continue;
            die("write");
        }
        c->woff += (size_t)n;
    }
    c->woff = c->wlen = 0;
}

/* Blocking helpers (latency modes): read until the buffer holds a full line. */
static int wait_readable(conn_t *c, int ms) {
    struct pollfd p = { c->fd, POLLIN, 0 };
    return poll(&p, 1, ms);
}

static ssize_t fill_read(conn_t *c) {
    if (c->rcap - c->rlen < 65536) { c->rcap *= 2; c->rb = xrealloc(c->rb, c->rcap); }
    ssize_t n = read(c->fd, c->rb + c->rlen, c->rcap - c->rlen);
    if (n > 0) c->rlen += (size_t)n;
    return n;
}

/* ---------- requests ---------- */

/* The job body, kernel payload and beanstalkd job alike: {"n":i,"p":"xx…"} padded to BODY_LEN
 * (40) bytes (docs/promises.md §12: 40-byte payloads). */
#define BODY_LEN 40
static int make_body(char *b, long long i) {
    int n = snprintf(b, 64, "{\"n\":%lld,\"p\":\"", i);
    while (n < BODY_LEN - 2) b[n++] = 'x';
    b[n++] = '"'; b[n++] = '}'; b[n] = 0;
    return n;
}

static void send_enqueue(conn_t *c, long long i) {
    char body[80], b[256];
    make_body(body, i);
    int n = snprintf(b, sizeof b,
        "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"method\":\"enqueue\",\"params\":{\"type\":\"%s\",\"payload\":%s}}\n", i, qname, body);
    wput(c, b, (size_t)n);
}

static long long fetch_seq = 0;
static void send_fetch(conn_t *c, int max, int wait_s) {
    char b[256];
    int n = snprintf(b, sizeof b,
        "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"method\":\"fetch\",\"params\":{\"types\":[\"%s\"],\"max\":%d,\"wait_s\":%d}}\n",
        FETCH_BASE + fetch_seq++, qname, max, wait_s);
    wput(c, b, (size_t)n);
}

static void send_ack(conn_t *c, const char *lease, size_t llen, long long i) {
    char b[512];
    if (llen > 300) { fprintf(stderr, "lease id too long\n"); exit(1); }
    int n = snprintf(b, sizeof b, "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"method\":\"ack\",\"params\":{\"lease\":\"%.*s\"}}\n",
        ACK_BASE + i, (int)llen, lease);
    wput(c, b, (size_t)n);
}

static void send_put(conn_t *c, long long i) {
    char body[80], b[160];
    int bl = make_body(body, i);
    int n = snprintf(b, sizeof b, "put 1024 0 60 %d\r\n%s\r\n", bl, body);
    wput(c, b, (size_t)n);
    fifo_push(c, K_PUT, i);
}

/* ---------- kernel responses ---------- */

/* Finds the top-level "id" (a number) and whether the message has a top-level "error". */
static void scan_top(const char *p, const char *e, long long *id, int *is_err) {
    int depth = 0;
    *id = -1; *is_err = 0;
    while (p < e) {
        char ch = *p;
        if (ch == '"') {
            const char *s = ++p;
            while (p < e && *p != '"') { if (*p == '\\') p++; p++; }
            size_t len = (size_t)(p - s);
            p++;
            if (depth == 1) {
                const char *q = p;
                while (q < e && (*q == ' ' || *q == '\t')) q++;
                if (q < e && *q == ':') {
                    q++;
                    while (q < e && *q == ' ') q++;
                    if (len == 2 && s[0] == 'i' && s[1] == 'd') {
                        if (q < e && (*q == '-' || (*q >= '0' && *q <= '9'))) *id = strtoll(q, NULL, 10);
                    } else if (len == 5 && memcmp(s, "error", 5) == 0) {
                        *is_err = 1;
                    }
                }
            }
            continue;
        }
        if (ch == '{' || ch == '[') depth++;
        else if (ch == '}' || ch == ']') depth--;
        p++;
    }
}

static long long lease_n_errs = 0;
/* Fetch response: pair the k-th "lease":"…" with the k-th "n": (the job's payload). */
static int handle_fetch_result(conn_t *c, const char *p, const char *e, int do_ack, const char **first_lease, size_t *first_len) {
    static const char *lp[1024]; static size_t ll[1024]; static long long ns[1024];
    int nl = 0, nn = 0;
    const char *q = p;
    while ((q = memmem(q, (size_t)(e - q), "\"lease\":\"", 9)) != NULL) {
        q += 9;
        const char *s = q;
        while (q < e && *q != '"') q++;
        if (nl < 1024) { lp[nl] = s; ll[nl] = (size_t)(q - s); nl++; }
    }
    q = p;
    while ((q = memmem(q, (size_t)(e - q), "\"n\":", 4)) != NULL) {
        q += 4;
        if (nn < 1024) ns[nn++] = strtoll(q, NULL, 10);
    }
    if (nl != nn) { lease_n_errs++; }
    for (int k = 0; k < nl; k++) {
        if (do_ack) send_ack(c, lp[k], ll[k], k < nn ? ns[k] : -1);
    }
    if (first_lease && nl > 0) { *first_lease = lp[0]; *first_len = ll[0]; }
    return nl;
}

static void kernel_line(conn_t *c, const char *p, const char *e, uint64_t t) {
    long long id; int is_err;
    scan_top(p, e, &id, &is_err);
    if (id < 0) { errors++; return; }
    if (id < ACK_BASE) { /* enqueue */
        c->inflight--;
        if (is_err) { errors++; if (mode == M_CYCLE) in_sys--; if (errors < 5) fprintf(stderr, "error: %.*s\n", (int)(e - p), p); return; }
        if (mode == M_ENQ) complete(id, t);
    } else if (id < FETCH_BASE) { /* ack */
        in_sys--;
        if (is_err) { errors++; if (errors < 5) fprintf(stderr, "error: %.*s\n", (int)(e - p), p); return; }
        complete(id - ACK_BASE, t);
    } else { /* fetch */
        c->inflight--;
        if (is_err) { errors++; if (errors < 5) fprintf(stderr, "error: %.*s\n", (int)(e - p), p); return; }
        handle_fetch_result(c, p, e, 1, NULL, NULL);
    }
}

static void kernel_read(conn_t *c, uint64_t t) {
    size_t off = 0;
    for (;;) {
        char *nl = memchr(c->rb + off, '\n', c->rlen - off);
        if (!nl) break;
        if (nl > c->rb + off) kernel_line(c, c->rb + off, nl, t);
        off = (size_t)(nl - c->rb) + 1;
    }
    if (off) { memmove(c->rb, c->rb + off, c->rlen - off); c->rlen -= off; }
}

/* ---------- beanstalk responses ---------- */

static void beanstalk_read(conn_t *c, uint64_t t) {
    size_t off = 0;
    for (;;) {
        char *s = c->rb + off;
        size_t avail = c->rlen - off;
        char *nl = memmem(s, avail, "\r\n", 2);
        if (!nl) break;
        size_t hl = (size_t)(nl - s) + 2;
        if (c->fh == c->ft) { fprintf(stderr, "unexpected beanstalk reply: %.*s\n", (int)hl, s); exit(1); }
        uint64_t ent = c->fifo[c->fh % FIFO_CAP];
        int kind = (int)(ent >> 56);
        long long i = (long long)(ent & 0xffffffffffffffULL);
        if (strncmp(s, "RESERVED ", 9) == 0) {
            unsigned long long jid; size_t bytes;
            if (sscanf(s + 9, "%llu %zu", &jid, &bytes) != 2) { fprintf(stderr, "bad RESERVED\n"); exit(1); }
            if (avail < hl + bytes + 2) break; /* body not here yet */
            c->fh++;
            c->inflight--;
            const char *body = s + hl;
            const char *q = memmem(body, bytes, "\"n\":", 4);
            long long n = q ? strtoll(q + 4, NULL, 10) : -1;
            char b[64];
            int m = snprintf(b, sizeof b, "delete %llu\r\n", jid);
            wput(c, b, (size_t)m);
            fifo_push(c, K_DELETE, n);
            off += hl + bytes + 2;
            continue;
        }
        c->fh++;
        off += hl;
        switch (kind) {
        case K_PUT:
            c->inflight--;
            if (strncmp(s, "INSERTED", 8) != 0) { errors++; if (mode == M_BCYCLE) in_sys--; if (errors < 5) fprintf(stderr, "put: %.*s", (int)hl, s); break; }
            if (mode == M_BPUT) complete(i, t);
            break;
        case K_RESERVE: /* TIMED_OUT or DEADLINE_SOON */
            c->inflight--;
            break;
        case K_DELETE:
            in_sys--;
            if (strncmp(s, "DELETED", 7) != 0) { errors++; break; }
            complete(i, t);
            break;
        default: break;
        }
    }
    if (off) { memmove(c->rb, c->rb + off, c->rlen - off); c->rlen -= off; }
}

/* ---------- throughput loop ---------- */

static void fill(conn_t *c, uint64_t t) {
    int bs = is_beanstalk();
    if (c->role == R_PROD) {
        while (c->inflight < window) {
            if ((mode == M_CYCLE || mode == M_BCYCLE) && in_sys >= cap) break;
            if (total && next_i >= total) break;
            long long i = next_i++;
            record_send(i, t);
            if (bs) send_put(c, i); else send_enqueue(c, i);
            c->inflight++;
            if (mode == M_CYCLE || mode == M_BCYCLE) in_sys++;
        }
    } else {
        while (c->inflight < fetch_depth) {
            if (bs) { wput(c, "reserve-with-timeout 1\r\n", 24); fifo_push(c, K_RESERVE, 0); }
            else send_fetch(c, fetch_max, 1);
            c->inflight++;
        }
    }
}

static void throughput(void) {
    int n = nprod + ((mode == M_CYCLE || mode == M_BCYCLE) ? nwork : 0);
    conn_t *cs = calloc((size_t)n, sizeof *cs);
    struct pollfd *pf = calloc((size_t)n, sizeof *pf);
    for (int k = 0; k < n; k++) {
        conn_init(&cs[k], k < nprod ? R_PROD : R_WORK);
        if (is_beanstalk()) {
            char b[300];
            if (cs[k].role == R_PROD) {
                int m = snprintf(b, sizeof b, "use %s\r\n", qname);
                wput(&cs[k], b, (size_t)m); fifo_push(&cs[k], K_OTHER, 0);
            } else {
                int m = snprintf(b, sizeof b, "watch %s\r\nignore default\r\n", qname);
                wput(&cs[k], b, (size_t)m); fifo_push(&cs[k], K_OTHER, 0); fifo_push(&cs[k], K_OTHER, 0);
            }
        }
        set_nonblock(&cs[k]);
    }
    uint64_t t0 = now_ns();
    t_measure0 = total ? t0 : t0 + (uint64_t)(warmup * 1e9);
    t_measure1 = total ? UINT64_MAX : t_measure0 + (uint64_t)(duration * 1e9);
    for (;;) {
        uint64_t t = now_ns();
        if (t >= t_measure1) break;
        if (total && done + errors >= total) { duration = (double)(t - t0) / 1e9; break; }
        for (int k = 0; k < n; k++) {
            fill(&cs[k], t);
            flush(&cs[k]);
            pf[k].fd = cs[k].fd;
            pf[k].events = POLLIN | (cs[k].woff < cs[k].wlen ? POLLOUT : 0);
            pf[k].revents = 0;
        }
        int r = poll(pf, (nfds_t)n, 10);
        if (r < 0) { if (errno == EINTR) continue; die("poll"); }
        t = now_ns();
        for (int k = 0; k < n; k++) {
            if (pf[k].revents & (POLLIN | POLLHUP | POLLERR)) {
                for (;;) {
                    ssize_t m = fill_read(&cs[k]);
                    if (m > 0) { if ((size_t)m < 65536) break; continue; }
                    if (m == 0) { fprintf(stderr, "connection closed by peer\n"); exit(1); }
                    if (errno == EAGAIN || errno == EWOULDBLOCK) break;
                    if (errno == EINTR) continue;
                    die("read");
                }
                if (is_beanstalk()) beanstalk_read(&cs[k], t); else kernel_read(&cs[k], t);
            }
            if (pf[k].revents & POLLOUT) flush(&cs[k]);
        }
    }
    for (int k = 0; k < n; k++) close(cs[k].fd);
    if (lease_n_errs) fprintf(stderr, "warning: %lld fetch responses with lease/payload count mismatch\n", lease_n_errs);
}

/* ---------- latency (idle) ---------- */

static void read_line_blocking(conn_t *c, size_t *len, int need_body) {
    /* returns when c->rb starts with a complete line (and, for RESERVED, its body) */
    for (;;) {
        char *nl = is_beanstalk() ? memmem(c->rb, c->rlen, "\r\n", 2) : memchr(c->rb, '\n', c->rlen);
        if (nl) {
            size_t hl = (size_t)(nl - c->rb) + (is_beanstalk() ? 2 : 1);
            if (need_body && is_beanstalk() && strncmp(c->rb, "RESERVED ", 9) == 0) {
                unsigned long long jid; size_t bytes;
                sscanf(c->rb + 9, "%llu %zu", &jid, &bytes);
                if (c->rlen >= hl + bytes + 2) { *len = hl + bytes + 2; return; }
            } else { *len = hl; return; }
        }
        if (wait_readable(c, 10000) <= 0) { fprintf(stderr, "timeout waiting for a reply\n"); exit(1); }
        ssize_t m = fill_read(c);
        if (m <= 0) { fprintf(stderr, "read failed / peer closed\n"); exit(1); }
    }
}

static void consume(conn_t *c, size_t len) { memmove(c->rb, c->rb + len, c->rlen - len); c->rlen -= len; }

static void latency(void) {
    conn_t P, W;
    conn_init(&P, R_PROD); conn_init(&W, R_WORK);
    size_t len;
    int bs = is_beanstalk();
    if (bs) {
        char b[300]; int m;
        m = snprintf(b, sizeof b, "use %s\r\n", qname);
        wput(&P, b, (size_t)m); flush(&P); read_line_blocking(&P, &len, 0); consume(&P, len);
        m = snprintf(b, sizeof b, "watch %s\r\n", qname);
        wput(&W, b, (size_t)m); flush(&W); read_line_blocking(&W, &len, 0); consume(&W, len);
        wput(&W, "ignore default\r\n", 16); flush(&W); read_line_blocking(&W, &len, 0); consume(&W, len);
    }
    t_measure0 = 0; t_measure1 = UINT64_MAX;
    uint64_t deadline = now_ns() + (uint64_t)(duration * 1e9);
    long warm = samples_target / 10;
    for (long s = 0; s < samples_target + warm && now_ns() < deadline; s++) {
        if (bs) wput(&W, "reserve-with-timeout 5\r\n", 24);
        else send_fetch(&W, 1, 5);
        flush(&W);
        struct timespec ts = { 0, 1000000 }; nanosleep(&ts, NULL); /* let the fetch/reserve park */
        uint64_t t0 = now_ns();
        if (bs) send_put(&P, s); else send_enqueue(&P, s);
        flush(&P);
        read_line_blocking(&W, &len, 1);
        uint64_t t1 = now_ns();
        if (s >= warm) { add_sample(t1 - t0); done++; }
        if (bs) {
            unsigned long long jid; size_t bytes;
            if (strncmp(W.rb, "RESERVED ", 9) != 0) { fprintf(stderr, "reserve: %.*s\n", (int)len, W.rb); exit(1); }
            sscanf(W.rb + 9, "%llu %zu", &jid, &bytes);
            consume(&W, len);
            char b[64]; int m = snprintf(b, sizeof b, "delete %llu\r\n", jid);
            wput(&W, b, (size_t)m); flush(&W);
            read_line_blocking(&W, &len, 0);
            if (strncmp(W.rb, "DELETED", 7) != 0) errors++;
            consume(&W, len);
            read_line_blocking(&P, &len, 0);
            if (strncmp(P.rb, "INSERTED", 8) != 0) errors++;
            consume(&P, len);
            P.fh = P.ft = 0;
        } else {
            const char *lp; size_t ll;
            long long id; int is_err;
            scan_top(W.rb, W.rb + len, &id, &is_err);
            if (is_err || handle_fetch_result(&W, W.rb, W.rb + len, 0, &lp, &ll) != 1) {
                fprintf(stderr, "fetch: %.*s\n", (int)len, W.rb); exit(1);
            }
            char lease[320]; memcpy(lease, lp, ll);
            consume(&W, len);
            send_ack(&W, lease, ll, s); flush(&W);
            read_line_blocking(&W, &len, 0);
            scan_top(W.rb, W.rb + len, &id, &is_err);
            if (is_err) errors++;
            consume(&W, len);
            read_line_blocking(&P, &len, 0);
            scan_top(P.rb, P.rb + len, &id, &is_err);
            if (is_err) errors++;
            consume(&P, len);
        }
    }
    close(P.fd); close(W.fd);
}

/* ---------- main ---------- */

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void usage(void) {
    fprintf(stderr,
        "usage: loadgen MODE [options]\n"
        "  MODE: enqueue | cycle | latency | beanstalk-put | beanstalk-cycle | beanstalk-latency\n"
        "  -u PATH   kernel Unix socket            -H HOST -p PORT  beanstalkd (127.0.0.1:11300)\n"
        "  -c N      producer connections (4)      -w N   worker connections (4)\n"
        "  -W N      requests in flight per producer connection (256)\n"
        "  -m N      fetch max (64)                -F N   fetches/reserves in flight per worker (2)\n"
        "  -C N      cap on jobs in the system in cycle modes (8192)\n"
        "  -d SECS   measured duration (5)         -D SECS warm-up, not counted (1)\n"
        "  -n N      latency samples (2000)\n"
        "  -T NAME   the kernel's job type / beanstalkd's tube (bench)\n"
        "  -N N      enqueue / beanstalk-put: send exactly N jobs, exit when all are answered\n"
        "            (no warm-up; rate = N / elapsed; alarm after -d + 60 s)\n");
    exit(2);
}

int main(int argc, char **argv) {
    if (argc < 2) usage();
    const char *m = argv[1];
    if (!strcmp(m, "enqueue")) mode = M_ENQ;
    else if (!strcmp(m, "cycle")) mode = M_CYCLE;
    else if (!strcmp(m, "latency")) mode = M_LAT;
    else if (!strcmp(m, "beanstalk-put")) mode = M_BPUT;
    else if (!strcmp(m, "beanstalk-cycle")) mode = M_BCYCLE;
    else if (!strcmp(m, "beanstalk-latency")) mode = M_BLAT;
    else usage();
    int opt;
    optind = 2;
    while ((opt = getopt(argc, argv, "u:H:p:c:w:W:m:F:C:d:D:n:N:T:")) != -1) {
        switch (opt) {
        case 'u': sock_path = optarg; break;
        case 'H': host = optarg; break;
        case 'p': port = atoi(optarg); break;
        case 'c': nprod = atoi(optarg); break;
        case 'w': nwork = atoi(optarg); break;
        case 'W': window = atoi(optarg); break;
        case 'm': fetch_max = atoi(optarg); break;
        case 'F': fetch_depth = atoi(optarg); break;
        case 'C': cap = atoi(optarg); break;
        case 'd': duration = atof(optarg); break;
        case 'D': warmup = atof(optarg); break;
        case 'n': samples_target = atol(optarg); break;
        case 'N': total = atoll(optarg); break;
        case 'T': qname = optarg; break;
        default: usage();
        }
    }
    if (!is_beanstalk() && !sock_path) { fprintf(stderr, "-u PATH is required for kernel modes\n"); exit(2); }
    if (strlen(qname) == 0 || strlen(qname) > 100) { fprintf(stderr, "-T NAME: 1 to 100 bytes\n"); exit(2); }
    signal(SIGPIPE, SIG_IGN);
    alarm((unsigned)(duration + warmup + 60)); /* never hang a benchmark run */

    double secs;
    if (mode == M_LAT || mode == M_BLAT) {
        latency();
        secs = 0;
    } else {
        throughput();
        secs = duration;
    }
    uint64_t p50 = 0, p99 = 0, mx = 0;
    if (lat_n) {
        qsort(lat, lat_n, sizeof *lat, cmp_u64);
        p50 = lat[lat_n / 2];
        p99 = lat[(size_t)((double)lat_n * 0.99)];
        mx = lat[lat_n - 1];
    }
    printf("RESULT mode=%s secs=%.2f ops=%lld rate=%.0f p50_us=%.1f p99_us=%.1f max_us=%.1f samples=%zu errors=%lld\n",
        m, secs, done, secs > 0 ? (double)done / secs : 0.0,
        p50 / 1000.0, p99 / 1000.0, mx / 1000.0, lat_n, errors);
    return 0;
}
