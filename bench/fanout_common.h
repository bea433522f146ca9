/* What bench/fanout.c and bench/web_fanout.c share: the clock, connecting to the kernel's Unix
 * socket, blocking writes and line reads, and the comparison for sorting lags. */
#ifndef JOBKERNEL_BENCH_FANOUT_COMMON_H
#define JOBKERNEL_BENCH_FANOUT_COMMON_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* Wall-clock nanoseconds: the producer stamps events with it, the readers compare. */
static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int connect_unix(const char *path) {
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    strncpy(a.sun_path, path, sizeof a.sun_path - 1);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) { perror("connect kernel"); exit(1); }
    return fd;
}

static void send_all(int fd, const char *s, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w < 0) { if (errno == EINTR || errno == EAGAIN) continue; perror("write"); exit(1); }
        s += w; n -= (size_t)w;
    }
}

/* Reads one line (blocking) into buf. */
static void read_line(int fd, char *buf, size_t cap) {
    size_t n = 0;
    while (n + 1 < cap) {
        ssize_t r = read(fd, buf + n, 1);
        if (r <= 0) { fprintf(stderr, "connection closed\n"); exit(1); }
        if (buf[n] == '\n') break;
        n++;
    }
    buf[n] = 0;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The log producer. It never blocks: `log` requests the kernel does not take at once wait in its
 * buffer (their send time is already stamped, so that wait counts as lag) while the readers are
 * served. After `secs` the buffer is flushed, then events are awaited 2 s more (at most 10 s). */
typedef struct {
    int fd;
    long long job;
    double rate;
    uint64_t t0, end, drain_end, hard_end;
    long sent;
    char *buf;
    size_t cap, len, off;
} producer_t;

static void producer_start(producer_t *p, int fd, long long job, double rate, double secs) {
    *p = (producer_t){.fd = fd, .job = job, .rate = rate, .cap = 1 << 20};
    p->buf = malloc(p->cap);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    p->t0 = now_ns();
    p->end = p->t0 + (uint64_t)(secs * 1e9);
    p->hard_end = p->end + 10000000000ull;
}

/* Queues the `log` requests due at `t` and writes what the socket takes; 0 once the run is over. */
static int producer_step(producer_t *p, uint64_t t) {
    char msg[256];
    if (t < p->end) {
        long due = (long)((double)(t - p->t0) / 1e9 * p->rate);
        while (p->sent < due) {
            /* message: "t=<ns>" padded with x to 40 bytes */
            int n = snprintf(msg, sizeof msg,
                             "{\"jsonrpc\":\"2.0\",\"id\":%ld,\"method\":\"log\",\"params\":{\"id\":\"%lld\",\"message\":\"t=%019llu%s\"}}\n",
                             p->sent + 10, p->job, (unsigned long long)now_ns(), "xxxxxxxxxxxxxxxxxxx");
            if (p->len + (size_t)n > p->cap) { p->cap *= 2; p->buf = realloc(p->buf, p->cap); if (!p->buf) { perror("realloc"); exit(1); } }
            memcpy(p->buf + p->len, msg, (size_t)n);
            p->len += (size_t)n;
            p->sent++;
        }
    } else if (p->off == p->len && !p->drain_end) {
        p->drain_end = t + 2000000000ull;
    }
    if ((p->drain_end && t > p->drain_end) || t > p->hard_end) return 0;
    while (p->off < p->len) {
        ssize_t w = write(p->fd, p->buf + p->off, p->len - p->off);
        if (w < 0) { if (errno == EINTR) continue; if (errno == EAGAIN) break; perror("write"); exit(1); }
        p->off += (size_t)w;
    }
    if (p->off == p->len) p->off = p->len = 0;
    return 1;
}

/* True while requests wait to be written (poll for POLLOUT). */
static int producer_backlogged(const producer_t *p) { return p->off < p->len; }

#endif
