/* docs/promises.md §12: "100 subscribers each receive every event of 10,000 events/s with p99 lag under
 * 10 ms". One producer connection logs to a running job at a fixed rate, each log message
 * carrying its send time; N subscriber connections subscribe to that job's `job.log` events and
 * measure, per event, receive time minus send time (messages of 40 bytes). Prints
 * delivered/expected, subscriptions dropped by the kernel (slow consumer) and lag p50/p99/max; rate= is the log requests generated per second (the
 * producer does not block: requests the kernel does not take at once are queued, their wait
 * counted as lag).
 *
 *   fanout SOCKET [subscribers=100] [events_per_s=10000] [seconds=5]
 * The kernel needs an async_api type `bench` (the unit is fetched so the job is running). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "fanout_common.h"

typedef struct { int fd; char *buf; size_t len, cap; long got; } sub_t;

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: fanout SOCKET [subscribers] [events_per_s] [seconds]\n"); return 2; }
    const char *path = argv[1];
    int nsub = argc > 2 ? atoi(argv[2]) : 100;
    long rate = argc > 3 ? atol(argv[3]) : 10000;
    double secs = argc > 4 ? atof(argv[4]) : 5;
    char line[1 << 16];

    int prod = connect_unix(path);
    const char *enq = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"enqueue\",\"params\":{\"type\":\"bench\"}}\n";
    send_all(prod, enq, strlen(enq));
    read_line(prod, line, sizeof line);
    char *idp = strstr(line, "\"id\":\"");
    if (!idp) { fprintf(stderr, "no job id: %s\n", line); return 1; }
    long long job = atoll(idp + 6);
    const char *fetch = "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"fetch\",\"params\":{\"types\":[\"bench\"],\"lease_s\":3600}}\n";
    send_all(prod, fetch, strlen(fetch));
    read_line(prod, line, sizeof line);
    /* The job to log to is the one leased (an older pending job may come first). */
    char *leased = strstr(line, "\"job\":{\"id\":\"");
    if (!leased) { fprintf(stderr, "nothing leased: %s\n", line); return 1; }
    job = atoll(leased + 13);

    sub_t *subs = calloc((size_t)nsub, sizeof *subs);
    struct pollfd *pf = calloc((size_t)nsub + 1, sizeof *pf);
    for (int i = 0; i < nsub; i++) {
        subs[i].fd = connect_unix(path);
        char req[256];
        int n = snprintf(req, sizeof req,
                         "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"subscribe\",\"params\":{\"ids\":[\"%lld\"],\"kinds\":[\"job.log\"]}}\n", job);
        send_all(subs[i].fd, req, (size_t)n);
        read_line(subs[i].fd, line, sizeof line);
        subs[i].cap = 1 << 20;
        subs[i].buf = malloc(subs[i].cap);
    }

    size_t lat_cap = (size_t)(rate * secs * nsub) + 1024, lat_n = 0;
    uint64_t *lat = malloc(lat_cap * sizeof *lat);
    long dropped = 0;
    producer_t producer;
    producer_start(&producer, prod, job, rate, secs);
    for (;;) {
        uint64_t t = now_ns();
        if (!producer_step(&producer, t)) break;
        pf[0].fd = prod; pf[0].events = POLLIN | (producer_backlogged(&producer) ? POLLOUT : 0);
        for (int i = 0; i < nsub; i++) { pf[i + 1].fd = subs[i].fd; pf[i + 1].events = POLLIN; }
        if (poll(pf, (nfds_t)nsub + 1, 1) <= 0) continue;
        if (pf[0].revents & POLLIN) {
            ssize_t r = read(prod, line, sizeof line);
            if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) break;
        }
        for (int i = 0; i < nsub; i++) {
            if (!(pf[i + 1].revents & POLLIN)) continue;
            sub_t *s = &subs[i];
            ssize_t r = read(s->fd, s->buf + s->len, s->cap - s->len);
            if (r <= 0) continue;
            uint64_t tr = now_ns();
            s->len += (size_t)r;
            char *p = s->buf, *e = s->buf + s->len, *nl;
            while ((nl = memchr(p, '\n', (size_t)(e - p)))) {
                char *m = memmem(p, (size_t)(nl - p), "\"message\":\"t=", 13);
                if (m) {
                    uint64_t ts = strtoull(m + 13, NULL, 10);
                    if (lat_n < lat_cap) lat[lat_n++] = tr - ts;
                    s->got++;
                } else if (memmem(p, (size_t)(nl - p), "subscription.dropped", 20)) {
                    dropped++;
                }
                p = nl + 1;
            }
            s->len = (size_t)(e - p);
            memmove(s->buf, p, s->len);
        }
    }
    qsort(lat, lat_n, sizeof *lat, cmp_u64);
    long long expected = (long long)producer.sent * nsub;
    /* Percentiles over every expected delivery: one never received (within 10 s of the end of
     * production) counts as an infinite lag, so a lossy run cannot show a good p99. */
#define PCT(q) ((size_t)((double)expected * (q)) < lat_n ? lat[(size_t)((double)expected * (q))] / 1e3 : INFINITY)
    printf("RESULT mode=fanout subscribers=%d events=%ld rate=%.0f delivered=%zu expected=%lld dropped=%ld p50_us=%.1f p99_us=%.1f max_us=%.1f\n",
           nsub, producer.sent, producer.sent / secs, lat_n, expected, dropped,
           PCT(0.5), PCT(0.99), (long long)lat_n >= expected && lat_n ? lat[lat_n - 1] / 1e3 : INFINITY);
    return 0;
}
