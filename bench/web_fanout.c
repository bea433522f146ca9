/* docs/promises.md §12: "100 browsers on /events each receive every event of 1,000 events/s with p99 lag under
 * 50 ms". One producer connection to the kernel's socket logs to a running job at a fixed rate,
 * each message carrying its send time; N clients hold `GET /events?ids=JOB&kinds=job.log` on the
 * gateway (Server-Sent Events over HTTP/1.1, the bearer token in a header, as a browser's
 * EventSource with the cookie would) and measure, per event, receive time minus send time.
 * Prints one RESULT line: delivered/expected, streams the gateway closed, lag p50/p99/max.
 *
 *   web_fanout SOCKET PORT TOKEN [clients=100] [events_per_s=1000] [seconds=5]
 * The kernel needs an async_api type `bench` (the unit is fetched so the job is running). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
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

static int connect_tcp(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) { perror("connect gateway"); exit(1); }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/* Reads until the stream's `subscribed` event: from then on no event is missed. */
static void await_subscribed(int fd) {
    char buf[8192];
    size_t n = 0;
    while (n + 1 < sizeof buf) {
        ssize_t r = read(fd, buf + n, sizeof buf - 1 - n);
        if (r <= 0) { fprintf(stderr, "the gateway closed a stream before it subscribed\n"); exit(1); }
        n += (size_t)r;
        buf[n] = 0;
        if (strstr(buf, "event: subscribed")) return;
        if (strncmp(buf, "HTTP/1.1 200", 12) != 0 && n > 12) { fprintf(stderr, "the gateway answered: %.200s\n", buf); exit(1); }
    }
}

typedef struct { int fd; char *buf; size_t len, cap; long got; int closed; } client_t;

int main(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage: web_fanout SOCKET PORT TOKEN [clients] [events_per_s] [seconds]\n"); return 2; }
    const char *path = argv[1];
    int port = atoi(argv[2]);
    const char *token = argv[3];
    int nc = argc > 4 ? atoi(argv[4]) : 100;
    long rate = argc > 5 ? atol(argv[5]) : 1000;
    double secs = argc > 6 ? atof(argv[6]) : 5;
    char line[1 << 16];

    int prod = connect_unix(path);
    const char *enq = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"enqueue\",\"params\":{\"type\":\"bench\"}}\n";
    send_all(prod, enq, strlen(enq));
    read_line(prod, line, sizeof line);
    const char *fetch = "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"fetch\",\"params\":{\"types\":[\"bench\"],\"lease_s\":3600}}\n";
    send_all(prod, fetch, strlen(fetch));
    read_line(prod, line, sizeof line);
    char *leased = strstr(line, "\"job\":{\"id\":\"");
    if (!leased) { fprintf(stderr, "nothing leased: %s\n", line); return 1; }
    long long job = atoll(leased + 13);

    client_t *cs = calloc((size_t)nc, sizeof *cs);
    struct pollfd *pf = calloc((size_t)nc + 1, sizeof *pf);
    for (int i = 0; i < nc; i++) {
        cs[i].fd = connect_tcp(port);
        char req[512];
        int n = snprintf(req, sizeof req,
                         "GET /events?ids=%lld&kinds=job.log HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAccept: text/event-stream\r\n"
                         "Authorization: Bearer %s\r\n\r\n", job, port, token);
        send_all(cs[i].fd, req, (size_t)n);
        await_subscribed(cs[i].fd);
        cs[i].cap = 1 << 20;
        cs[i].buf = malloc(cs[i].cap);
    }

    size_t lat_cap = (size_t)(rate * secs * nc) + 1024, lat_n = 0;
    uint64_t *lat = malloc(lat_cap * sizeof *lat);
    long closed = 0;
    producer_t producer;
    producer_start(&producer, prod, job, rate, secs);
    for (;;) {
        uint64_t t = now_ns();
        if (!producer_step(&producer, t)) break;
        pf[0].fd = prod; pf[0].events = POLLIN | (producer_backlogged(&producer) ? POLLOUT : 0);
        for (int i = 0; i < nc; i++) { pf[i + 1].fd = cs[i].closed ? -1 : cs[i].fd; pf[i + 1].events = POLLIN; }
        if (poll(pf, (nfds_t)nc + 1, 1) <= 0) continue;
        if (pf[0].revents & POLLIN) {
            ssize_t r = read(prod, line, sizeof line);
            if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) break;
        }
        for (int i = 0; i < nc; i++) {
            if (!(pf[i + 1].revents & (POLLIN | POLLHUP))) continue;
            client_t *c = &cs[i];
            if (c->cap - c->len < 65536) { c->cap *= 2; c->buf = realloc(c->buf, c->cap); }
            ssize_t r = read(c->fd, c->buf + c->len, c->cap - c->len);
            if (r <= 0) { if (!c->closed) { c->closed = 1; closed++; } continue; }
            uint64_t tr = now_ns();
            c->len += (size_t)r;
            char *p = c->buf, *e = c->buf + c->len, *nl;
            while ((nl = memchr(p, '\n', (size_t)(e - p)))) {
                /* An SSE `data:` line holding the event object; chunk-size lines are skipped. */
                if (nl - p > 6 && memcmp(p, "data: ", 6) == 0) {
                    char *m = memmem(p, (size_t)(nl - p), "\"message\":\"t=", 13);
                    if (m) {
                        uint64_t ts = strtoull(m + 13, NULL, 10);
                        if (lat_n < lat_cap) lat[lat_n++] = tr - ts;
                        c->got++;
                    }
                }
                p = nl + 1;
            }
            c->len = (size_t)(e - p);
            memmove(c->buf, p, c->len);
        }
    }
    qsort(lat, lat_n, sizeof *lat, cmp_u64);
    long long expected = (long long)producer.sent * nc;
    /* A delivery that never came counts as an infinite lag, so a lossy run cannot show a good p99. */
#define PCT(q) ((size_t)((double)expected * (q)) < lat_n ? lat[(size_t)((double)expected * (q))] / 1e3 : INFINITY)
    printf("RESULT mode=web_fanout clients=%d events=%ld rate=%.0f delivered=%zu expected=%lld closed=%ld p50_us=%.1f p99_us=%.1f max_us=%.1f\n",
           nc, producer.sent, producer.sent / secs, lat_n, expected, closed,
           PCT(0.5), PCT(0.99), (long long)lat_n >= expected && lat_n ? lat[lat_n - 1] / 1e3 : INFINITY);
    return 0;
}
