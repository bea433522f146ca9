// An LD_PRELOAD shim that records what a process writes to one SQLite database and its WAL, and
// when it syncs them, so that tracereplay.py can rebuild what a disk could hold after a power cut
// at any moment of the run.
//
//     PC_TRACE=/tmp/run.trace PC_DB=/tmp/run/jobs.db LD_PRELOAD=./iotrace.so jobkernel serve ...
//
// Files traced: PC_DB itself and PC_DB followed by "-wal", "-journal" or "-shm" (the kernel has no
// -shm: its WAL index is in memory, and a -shm would be rebuilt from the WAL after a cut anyway).
// Each record is a fixed header (struct record) followed, for a write, by the bytes written. The
// times are CLOCK_MONOTONIC, the clock of Python's time.monotonic(): t0 is read before the call and
// t1 as soon as it returns, before the caller can act on it. Records of different threads may
// reach the trace out of t1 order; the replay sorts them. A sync covers the writes whose t1 is
// before its t0: they had returned before it began.
//
// Only calls that succeed are recorded, and a short write only for the bytes it wrote.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

enum { OP_WRITE = 1, OP_SYNC = 2, OP_TRUNCATE = 3, OP_OPEN = 4, OP_UNLINK = 5, OP_RANGE_SYNC = 6 };
enum { NFILES = 4, MAXFD = 65536 };
static const char *const suffixes[NFILES] = {"", "-wal", "-journal", "-shm"};

// The layout tracereplay.py reads ("<BBHIQQqQ", 40 bytes, little-endian).
struct record {
    uint8_t op;
    uint8_t file;     // index into suffixes
    uint16_t spare;
    uint32_t tid;
    uint64_t t0, t1;  // ns, CLOCK_MONOTONIC
    int64_t offset;   // write: where; truncate: the new size; open: the flags
    uint64_t length;  // write: bytes that follow the header
} __attribute__((packed));

static int trace_fd = -1;
static char paths[NFILES][4096];
static unsigned char tracked[MAXFD];  // file index + 1, 0 when the fd is not traced
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static ssize_t (*real_pwrite64)(int, const void *, size_t, off64_t);
static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_writev)(int, const struct iovec *, int);
static ssize_t (*real_pwritev64)(int, const struct iovec *, int, off64_t);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_sync_file_range)(int, off64_t, off64_t, unsigned int);
static int (*real_ftruncate64)(int, off64_t);
static int (*real_open64)(const char *, int, ...);
static int (*real_openat64)(int, const char *, int, ...);
static int (*real_close)(int);
static int (*real_unlink)(const char *);

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void resolve(void) {
    real_pwrite64 = dlsym(RTLD_NEXT, "pwrite64");
    real_write = dlsym(RTLD_NEXT, "write");
    real_writev = dlsym(RTLD_NEXT, "writev");
    real_pwritev64 = dlsym(RTLD_NEXT, "pwritev64");
    real_fsync = dlsym(RTLD_NEXT, "fsync");
    real_fdatasync = dlsym(RTLD_NEXT, "fdatasync");
    real_sync_file_range = dlsym(RTLD_NEXT, "sync_file_range");
    real_ftruncate64 = dlsym(RTLD_NEXT, "ftruncate64");
    real_open64 = dlsym(RTLD_NEXT, "open64");
    real_openat64 = dlsym(RTLD_NEXT, "openat64");
    real_close = dlsym(RTLD_NEXT, "close");
    real_unlink = dlsym(RTLD_NEXT, "unlink");
}

__attribute__((constructor)) static void start(void) {
    resolve();
    const char *trace = getenv("PC_TRACE"), *db = getenv("PC_DB");
    if (!trace || !db) return;
    for (int i = 0; i < NFILES; i++) snprintf(paths[i], sizeof paths[i], "%s%s", db, suffixes[i]);
    // The kernel's children (handlers, workers) inherit LD_PRELOAD: only the first process traces.
    trace_fd = (int)syscall(SYS_openat, AT_FDCWD, trace, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    unsetenv("PC_TRACE");
}

static int file_of_path(const char *path) {
    if (trace_fd < 0 || !path) return -1;
    for (int i = 0; i < NFILES; i++)
        if (strcmp(path, paths[i]) == 0) return i;
    return -1;
}

static int file_of_fd(int fd) {
    if (trace_fd < 0 || fd < 0 || fd >= MAXFD) return -1;
    return (int)tracked[fd] - 1;
}

// Appends one record (and `iov`'s `len` bytes for a write) to the trace.
static void emit(int op, int file, uint64_t t0, uint64_t t1, int64_t offset, const struct iovec *iov, int iovcnt, uint64_t len) {
    struct record r = {.op = (uint8_t)op, .file = (uint8_t)file, .tid = (uint32_t)syscall(SYS_gettid),
                       .t0 = t0, .t1 = t1, .offset = offset, .length = len};
    struct iovec parts[66];
    int n = 0;
    parts[n++] = (struct iovec){&r, sizeof r};
    uint64_t left = len;
    for (int i = 0; i < iovcnt && left && n < 66; i++) {
        size_t take = iov[i].iov_len < left ? iov[i].iov_len : (size_t)left;
        parts[n++] = (struct iovec){iov[i].iov_base, take};
        left -= take;
    }
    pthread_mutex_lock(&lock);
    size_t total = 0;
    for (int i = 0; i < n; i++) total += parts[i].iov_len;
    // One writev per record, looped in case it is short.
    struct iovec *p = parts;
    int pn = n;
    while (total) {
        ssize_t w = (ssize_t)syscall(SYS_writev, trace_fd, p, pn);
        if (w < 0) {
            if (errno == EINTR) continue;
            abort();  // a trace with a hole would prove nothing
        }
        total -= (size_t)w;
        while (pn && (size_t)w >= p->iov_len) {
            w -= (ssize_t)p->iov_len;
            p++;
            pn--;
        }
        if (pn) {
            p->iov_base = (char *)p->iov_base + w;
            p->iov_len -= (size_t)w;
        }
    }
    pthread_mutex_unlock(&lock);
}

static int opened(const char *path, int flags, uint64_t t0, int fd) {
    uint64_t t1 = now_ns();
    int file = file_of_path(path);
    if (fd >= 0 && fd < MAXFD) tracked[fd] = (unsigned char)(file + 1);
    if (fd >= 0 && file >= 0) emit(OP_OPEN, file, t0, t1, flags, NULL, 0, 0);
    return fd;
}

#define MODE_ARG(flags, mode)                                       \
    mode_t mode = 0;                                                \
    if ((flags) & (O_CREAT | O_TMPFILE)) {                          \
        va_list ap;                                                 \
        va_start(ap, flags);                                        \
        mode = (mode_t)va_arg(ap, int);                             \
        va_end(ap);                                                 \
    }

int open64(const char *path, int flags, ...) {
    MODE_ARG(flags, mode);
    if (!real_open64) resolve();
    uint64_t t0 = now_ns();
    return opened(path, flags, t0, real_open64(path, flags, mode));
}

int open(const char *path, int flags, ...) {
    MODE_ARG(flags, mode);
    if (!real_open64) resolve();
    uint64_t t0 = now_ns();
    return opened(path, flags, t0, real_open64(path, flags, mode));
}

int __open_2(const char *path, int flags) { return open64(path, flags); }
int __open64_2(const char *path, int flags) { return open64(path, flags); }

int openat64(int dirfd, const char *path, int flags, ...) {
    MODE_ARG(flags, mode);
    if (!real_openat64) resolve();
    uint64_t t0 = now_ns();
    int fd = real_openat64(dirfd, path, flags, mode);
    return path[0] == '/' ? opened(path, flags, t0, fd) : opened(NULL, flags, t0, fd);
}

int openat(int dirfd, const char *path, int flags, ...) {
    MODE_ARG(flags, mode);
    return openat64(dirfd, path, flags, mode);
}

int close(int fd) {
    if (!real_close) resolve();
    if (fd >= 0 && fd < MAXFD) tracked[fd] = 0;
    return real_close(fd);
}

ssize_t pwrite64(int fd, const void *data, size_t n, off64_t offset) {
    if (!real_pwrite64) resolve();
    uint64_t t0 = now_ns();
    ssize_t w = real_pwrite64(fd, data, n, offset);
    uint64_t t1 = now_ns();
    int file = file_of_fd(fd);
    if (file >= 0 && w > 0) {
        struct iovec v = {(void *)data, (size_t)w};
        emit(OP_WRITE, file, t0, t1, offset, &v, 1, (uint64_t)w);
    }
    return w;
}

ssize_t pwrite(int fd, const void *data, size_t n, off_t offset) { return pwrite64(fd, data, n, offset); }

ssize_t pwritev64(int fd, const struct iovec *iov, int iovcnt, off64_t offset) {
    if (!real_pwritev64) resolve();
    uint64_t t0 = now_ns();
    ssize_t w = real_pwritev64(fd, iov, iovcnt, offset);
    uint64_t t1 = now_ns();
    int file = file_of_fd(fd);
    if (file >= 0 && w > 0) emit(OP_WRITE, file, t0, t1, offset, iov, iovcnt, (uint64_t)w);
    return w;
}

ssize_t pwritev(int fd, const struct iovec *iov, int iovcnt, off_t offset) { return pwritev64(fd, iov, iovcnt, offset); }

ssize_t write(int fd, const void *data, size_t n) {
    if (!real_write) resolve();
    int file = file_of_fd(fd);
    if (file < 0) return real_write(fd, data, n);
    uint64_t t0 = now_ns();
    off64_t offset = lseek64(fd, 0, SEEK_CUR);
    ssize_t w = real_write(fd, data, n);
    uint64_t t1 = now_ns();
    if (w > 0) {
        struct iovec v = {(void *)data, (size_t)w};
        emit(OP_WRITE, file, t0, t1, offset, &v, 1, (uint64_t)w);
    }
    return w;
}

ssize_t writev(int fd, const struct iovec *iov, int iovcnt) {
    if (!real_writev) resolve();
    int file = file_of_fd(fd);
    if (file < 0) return real_writev(fd, iov, iovcnt);
    uint64_t t0 = now_ns();
    off64_t offset = lseek64(fd, 0, SEEK_CUR);
    ssize_t w = real_writev(fd, iov, iovcnt);
    uint64_t t1 = now_ns();
    if (w > 0) emit(OP_WRITE, file, t0, t1, offset, iov, iovcnt, (uint64_t)w);
    return w;
}

static int synced(int op, int fd, uint64_t t0, int rc) {
    uint64_t t1 = now_ns();
    int file = file_of_fd(fd);
    if (file >= 0 && rc == 0) emit(op, file, t0, t1, 0, NULL, 0, 0);
    return rc;
}

int fsync(int fd) {
    if (!real_fsync) resolve();
    uint64_t t0 = now_ns();
    return synced(OP_SYNC, fd, t0, real_fsync(fd));
}

int fdatasync(int fd) {
    if (!real_fdatasync) resolve();
    uint64_t t0 = now_ns();
    return synced(OP_SYNC, fd, t0, real_fdatasync(fd));
}

// Starts or waits for writeback, but flushes neither metadata nor the drive's cache: not a sync.
int sync_file_range(int fd, off64_t offset, off64_t n, unsigned int flags) {
    if (!real_sync_file_range) resolve();
    uint64_t t0 = now_ns();
    return synced(OP_RANGE_SYNC, fd, t0, real_sync_file_range(fd, offset, n, flags));
}

int ftruncate64(int fd, off64_t size) {
    if (!real_ftruncate64) resolve();
    uint64_t t0 = now_ns();
    int rc = real_ftruncate64(fd, size);
    uint64_t t1 = now_ns();
    int file = file_of_fd(fd);
    if (file >= 0 && rc == 0) emit(OP_TRUNCATE, file, t0, t1, size, NULL, 0, 0);
    return rc;
}

int ftruncate(int fd, off_t size) { return ftruncate64(fd, size); }

int unlink(const char *path) {
    if (!real_unlink) resolve();
    uint64_t t0 = now_ns();
    int rc = real_unlink(path);
    uint64_t t1 = now_ns();
    int file = file_of_path(path);
    if (file >= 0 && rc == 0) emit(OP_UNLINK, file, t0, t1, 0, NULL, 0, 0);
    return rc;
}
