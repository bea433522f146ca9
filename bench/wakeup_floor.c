// wakeup_floor: the least a round trip between two processes over a Unix socket costs on this
// machine (bench/README.md, "The store's own limit").
//
// A child process echoes each message back; the parent sends a message the size of an enqueue
// request and waits for the echo, one at a time. Any server's dispatch latency, as `loadgen
// latency` and `loadgen beanstalk-latency` measure it, contains such a round trip: the client's
// request wakes the server, the server's answer wakes the client. Blocking reads and writes,
// no event loop: nothing is cheaper. As `loadgen latency` does, each sample starts after a pause of
// 1 ms (there it lets the worker's fetch park), so both processes are asleep when it starts.
//
//   wakeup_floor [-n N] [-s BYTES]
//
// Prints one line: RESULT samples=… p50_us=… p99_us=….
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/// Reads exactly n bytes; 0 at end of file.
static int read_all(int fd, char *buf, size_t n) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r <= 0) return 0;
        got += (size_t)r;
    }
    return 1;
}

int main(int argc, char **argv) {
    int samples = 2000, size = 121;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "-n")) samples = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-s")) size = atoi(argv[i + 1]);
        else { fprintf(stderr, "usage: wakeup_floor [-n N] [-s BYTES]\n"); return 2; }
    }
    if (samples < 1 || size < 1 || size > 65536) {
        fprintf(stderr, "wakeup_floor: -n must be ≥ 1 and -s 1…65536\n");
        return 2;
    }
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) { perror("socketpair"); return 1; }
    char *buf = calloc(1, (size_t)size);
    pid_t child = fork();
    if (child < 0) { perror("fork"); return 1; }
    if (child == 0) {
        close(sv[0]);
        while (read_all(sv[1], buf, (size_t)size))
            if (write(sv[1], buf, (size_t)size) != size) _exit(1);
        _exit(0);
    }
    close(sv[1]);
    double *lat = malloc(sizeof(double) * samples);
    for (int i = -100; i < samples; i++) {  // 100 not counted: the first wake-ups are slower
        struct timespec pause = { 0, 1000000 };
        nanosleep(&pause, NULL);
        double t = now_us();
        if (write(sv[0], buf, (size_t)size) != size || !read_all(sv[0], buf, (size_t)size)) {
            fprintf(stderr, "wakeup_floor: the echo process went away\n");
            return 1;
        }
        if (i >= 0) lat[i] = now_us() - t;
    }
    close(sv[0]);
    waitpid(child, NULL, 0);
    qsort(lat, samples, sizeof(double), cmp_double);
    printf("RESULT samples=%d p50_us=%.1f p99_us=%.1f\n", samples, lat[samples / 2], lat[samples * 99 / 100]);
    return 0;
}
