/* What bench/fanout.c and bench/web_fanout.c share: the clock, connecting to the kernel's Unix
 * socket, blocking writes and line reads, and the comparison for sorting lags. */
#ifndef JOBKERNEL_BENCH_FANOUT_COMMON_H
#define JOBKERNEL_BENCH_FANOUT_COMMON_H

#include <errno.h>
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

#endif
