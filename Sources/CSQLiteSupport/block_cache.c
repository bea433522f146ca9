// SQLite's allocator for the kernel: small blocks come from a per-thread cache.
//
// Debian builds SQLite with SQLITE_OMIT_LOOKASIDE, so every allocation SQLite makes while it
// runs a statement (a record being built, a cursor, a bound text's copy) is a malloc and a
// free: about 60 of each per enqueued-and-acknowledged job, an eighth of the writer thread's
// instructions (bench/README.md). This does what the lookaside would: a freed block of up to
// 4 KiB goes on a free list of its size class, kept by the thread, and the next allocation of
// that class takes it back with no lock and no search. Larger blocks go to malloc directly.
//
// Each thread's lists are bounded (a class keeps at most MAX_CACHED blocks) and given back to
// malloc when the thread ends. A block freed by another thread than the one that allocated it
// joins the freeing thread's list, which is harmless: every block carries its own size.

#include "sqlite_support.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

// A block is a 16-byte header (the usable size) and the bytes SQLite sees, 16-byte aligned.
#define HEADER 16
// Classes: 32, 64, ... 512 bytes (16 classes), then 1, 2 and 4 KiB.
#define SMALL_STEP 32
#define SMALL_CLASSES 16
#define CLASSES (SMALL_CLASSES + 3)
#define LARGEST 4096
#define MAX_CACHED 512

typedef struct Block { struct Block *next; } Block;

typedef struct {
    Block *head[CLASSES];
    int count[CLASSES];
} Cache;

static __thread Cache *thread_cache;
static pthread_key_t cache_key;

static int class_of(int n) {
    if (n <= SMALL_STEP * SMALL_CLASSES) return n <= 0 ? 0 : (n - 1) / SMALL_STEP;
    if (n <= 1024) return SMALL_CLASSES;
    if (n <= 2048) return SMALL_CLASSES + 1;
    return SMALL_CLASSES + 2;
}

static int class_size(int c) {
    return c < SMALL_CLASSES ? (c + 1) * SMALL_STEP : 1024 << (c - SMALL_CLASSES);
}

static void release_cache(void *p) {
    Cache *cache = p;
    for (int c = 0; c < CLASSES; c++) {
        for (Block *b = cache->head[c]; b;) {
            Block *next = b->next;
            free((char *)b - HEADER);
            b = next;
        }
    }
    free(cache);
}

static Cache *cache(void) {
    if (!thread_cache) {
        thread_cache = calloc(1, sizeof(Cache));
        if (thread_cache) pthread_setspecific(cache_key, thread_cache);
    }
    return thread_cache;
}

static void *with_header(char *raw, int size) {
    if (!raw) return NULL;
    *(int64_t *)raw = size;
    return raw + HEADER;
}

static int size_of(void *p) { return (int)*(int64_t *)((char *)p - HEADER); }

static void *block_malloc(int n) {
    if (n > LARGEST) return with_header(malloc((size_t)n + HEADER), n);
    int c = class_of(n);
    Cache *k = cache();
    if (k && k->head[c]) {
        Block *b = k->head[c];
        k->head[c] = b->next;
        k->count[c]--;
        return b;
    }
    int size = class_size(c);
    return with_header(malloc((size_t)size + HEADER), size);
}

static void block_free(void *p) {
    if (!p) return;
    int size = size_of(p);
    if (size <= LARGEST) {
        int c = class_of(size);
        Cache *k = cache();
        if (k && k->count[c] < MAX_CACHED) {
            Block *b = p;
            b->next = k->head[c];
            k->head[c] = b;
            k->count[c]++;
            return;
        }
    }
    free((char *)p - HEADER);
}

static int block_size(void *p) { return p ? size_of(p) : 0; }

static int block_roundup(int n) { return n > LARGEST ? (n + 7) & ~7 : class_size(class_of(n)); }

static void *block_realloc(void *p, int n) {
    if (!p) return block_malloc(n);
    int size = size_of(p);
    if (n <= size) return p;  // it keeps its size, and goes back to its class when freed
    void *q = block_malloc(n);
    if (!q) return NULL;
    memcpy(q, p, (size_t)(size < n ? size : n));
    block_free(p);
    return q;
}

static int block_init(void *unused) {
    (void)unused;
    return 0;
}

static void block_shutdown(void *unused) { (void)unused; }

int jk_sqlite_use_block_cache(void) {
    static const sqlite3_mem_methods methods = {
        block_malloc, block_free, block_realloc, block_size, block_roundup, block_init, block_shutdown, NULL,
    };
    if (pthread_key_create(&cache_key, release_cache) != 0) return SQLITE_NOMEM;
    return sqlite3_config(SQLITE_CONFIG_MALLOC, &methods);
}

long jk_sqlite_block_cache_count(void) {
    Cache *k = thread_cache;
    long n = 0;
    if (k) for (int c = 0; c < CLASSES; c++) n += k->count[c];
    return n;
}
