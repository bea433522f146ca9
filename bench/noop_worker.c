/* A persistent worker (docs/promises.md §5.2) that does no work: it answers every `run` at once with the
 * CLOCK_REALTIME nanoseconds at which it read the request, so the benchmark can measure dispatch
 * latency (enqueue sent -> worker received `run`) and the full cycle's throughput. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int main(void) {
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    setvbuf(stdout, NULL, _IOFBF, 1 << 16);
    while ((n = getline(&line, &cap, stdin)) > 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        if (!strstr(line, "\"method\":\"run\"")) continue;
        char *id = strstr(line, "\"id\":");
        if (!id) continue;
        long long rid = atoll(id + 5);
        printf("{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{\"result\":{\"t\":%lld}}}\n", rid,
               (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
        fflush(stdout);
    }
    return 0;
}
