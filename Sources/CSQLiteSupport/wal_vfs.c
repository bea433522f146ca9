// A VFS that writes each transaction's WAL frames in one system call.
//
// SQLite appends a frame to the WAL in two writes, its 24-byte header and then the page, so a
// transaction of n pages costs 2n pwrite calls: 8 for an enqueue that is answered at once, a
// fifth of the kernel's system calls (bench/README.md). This VFS is the base VFS (the kernel
// uses "unix-excl") with one change: writes that append to a WAL file and follow one another are
// gathered in a buffer and written with one pwrite when the transaction's commit frame has been
// given, or before anything else touches the file (a read, a size, a sync, a truncation, a
// close), or before the buffer would hold more than the unix VFS writes in one call (128 KiB).
//
// A write into frames already written goes straight to the file. SQLite makes such writes when a
// transaction larger than the page cache has spilled pages into the WAL before its commit and
// changes one of them again: it rewrites that frame's page in place, and after the commit frame
// it rewrites the header of every frame from that one to the commit's, to fix their checksums.
// The last of those headers is the commit's, and no write follows it that would flush a buffer.
//
// Durability is unchanged: SQLite takes a transaction as committed when the write of its commit
// frame returns, and by then the whole transaction is in the file (in the page cache, as with
// the base VFS; a sync, when the durability setting asks for one, comes after). A commit frame
// is told by its header: the database size after the commit, bytes 4 to 7, is not zero.
//
// A failed write is reported by the call that wrote: the commit frame's write, or the call
// that had the buffer written first. The buffered frames are then dropped, as the transaction
// they belong to is undone.

#include "sqlite_support.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#define FRAME_HEADER 24
// The unix VFS writes at most 128 KiB - 1 bytes per call (it masks the length with 0x1ffff).
#define MAX_GATHERED 0x1ffff

typedef struct {
    sqlite3_file base;
    sqlite3_file *real;  // the base VFS's file, allocated right after this struct
    int wal;             // a WAL file: its writes are gathered
    int commit_next;     // the last write was a commit frame's header: its page ends the commit
    sqlite3_int64 end;   // the end of what this file has written since the WAL last began at 0
    unsigned char *buf;
    size_t len, cap;
    sqlite3_int64 start;  // where the gathered bytes go in the file
} WalFile;

static sqlite3_vfs *base_vfs;
static __thread long writes_made;  // by this thread

static int flush(WalFile *f) {
    if (!f->len) return SQLITE_OK;
    int rc = f->real->pMethods->xWrite(f->real, f->buf, (int)f->len, f->start);
    f->len = 0;
    f->commit_next = 0;
    writes_made++;
    return rc;
}

// Writes what is gathered, then `data` on its own.
static int write_through(WalFile *f, const void *data, int n, sqlite3_int64 offset) {
    int rc = flush(f);
    if (rc != SQLITE_OK) return rc;
    writes_made++;
    return f->real->pMethods->xWrite(f->real, data, n, offset);
}

static int gather(WalFile *f, const void *data, int n, sqlite3_int64 offset) {
    if (n > MAX_GATHERED) return write_through(f, data, n, offset);  // not a WAL's frame
    if (f->len && (offset != f->start + (sqlite3_int64)f->len || f->len + (size_t)n > MAX_GATHERED)) {
        int rc = flush(f);
        if (rc != SQLITE_OK) return rc;
    }
    if (f->len + (size_t)n > f->cap) {
        size_t cap = f->cap ? f->cap : 65536;
        while (cap < f->len + (size_t)n) cap *= 2;
        unsigned char *grown = realloc(f->buf, cap);
        if (!grown) return write_through(f, data, n, offset);  // no room to gather
        f->buf = grown;
        f->cap = cap;
    }
    if (!f->len) f->start = offset;
    memcpy(f->buf + f->len, data, (size_t)n);
    f->len += (size_t)n;
    return SQLITE_OK;
}

static int wal_write(sqlite3_file *file, const void *data, int n, sqlite3_int64 offset) {
    WalFile *f = (WalFile *)file;
    if (!f->wal) return f->real->pMethods->xWrite(f->real, data, n, offset);
    if (offset == 0) f->end = 0;  // a new WAL header: the WAL begins again
    if (offset < f->end) return write_through(f, data, n, offset);  // a rewrite, see above
    f->end = offset + n;
    int ends_commit = f->commit_next && n != FRAME_HEADER;
    int rc = gather(f, data, n, offset);
    if (rc != SQLITE_OK) return rc;
    if (n == FRAME_HEADER) {
        const unsigned char *h = data;
        f->commit_next = (h[4] | h[5] | h[6] | h[7]) != 0;
        return SQLITE_OK;
    }
    if (ends_commit) return flush(f);
    return SQLITE_OK;
}

// Every other call on the file first writes what is gathered.
#define FLUSHED(f)                                   \
    do {                                             \
        int frc = flush(f);                          \
        if (frc != SQLITE_OK) return frc;            \
    } while (0)

static int wal_close(sqlite3_file *file) {
    WalFile *f = (WalFile *)file;
    int frc = flush(f);
    int rc = f->real->pMethods ? f->real->pMethods->xClose(f->real) : SQLITE_OK;
    free(f->buf);
    f->buf = NULL;
    f->cap = 0;
    return frc != SQLITE_OK ? frc : rc;
}

static int wal_read(sqlite3_file *file, void *data, int n, sqlite3_int64 offset) {
    WalFile *f = (WalFile *)file;
    FLUSHED(f);
    return f->real->pMethods->xRead(f->real, data, n, offset);
}

static int wal_truncate(sqlite3_file *file, sqlite3_int64 size) {
    WalFile *f = (WalFile *)file;
    FLUSHED(f);
    if (size < f->end) f->end = size;
    return f->real->pMethods->xTruncate(f->real, size);
}

static int wal_sync(sqlite3_file *file, int flags) {
    WalFile *f = (WalFile *)file;
    FLUSHED(f);
    return f->real->pMethods->xSync(f->real, flags);
}

static int wal_file_size(sqlite3_file *file, sqlite3_int64 *size) {
    WalFile *f = (WalFile *)file;
    FLUSHED(f);
    return f->real->pMethods->xFileSize(f->real, size);
}

static int wal_lock(sqlite3_file *file, int level) {
    WalFile *f = (WalFile *)file;
    return f->real->pMethods->xLock(f->real, level);
}

static int wal_unlock(sqlite3_file *file, int level) {
    WalFile *f = (WalFile *)file;
    FLUSHED(f);
    return f->real->pMethods->xUnlock(f->real, level);
}

static int wal_check_reserved_lock(sqlite3_file *file, int *out) {
    WalFile *f = (WalFile *)file;
    return f->real->pMethods->xCheckReservedLock(f->real, out);
}

static int wal_file_control(sqlite3_file *file, int op, void *arg) {
    WalFile *f = (WalFile *)file;
    FLUSHED(f);
    return f->real->pMethods->xFileControl(f->real, op, arg);
}

static int wal_sector_size(sqlite3_file *file) {
    WalFile *f = (WalFile *)file;
    return f->real->pMethods->xSectorSize(f->real);
}

static int wal_device_characteristics(sqlite3_file *file) {
    WalFile *f = (WalFile *)file;
    return f->real->pMethods->xDeviceCharacteristics(f->real);
}

static int wal_shm_map(sqlite3_file *file, int page, int size, int extend, void volatile **out) {
    WalFile *f = (WalFile *)file;
    return f->real->pMethods->xShmMap(f->real, page, size, extend, out);
}

static int wal_shm_lock(sqlite3_file *file, int offset, int n, int flags) {
    WalFile *f = (WalFile *)file;
    return f->real->pMethods->xShmLock(f->real, offset, n, flags);
}

static void wal_shm_barrier(sqlite3_file *file) {
    WalFile *f = (WalFile *)file;
    f->real->pMethods->xShmBarrier(f->real);
}

static int wal_shm_unmap(sqlite3_file *file, int delete_flag) {
    WalFile *f = (WalFile *)file;
    return f->real->pMethods->xShmUnmap(f->real, delete_flag);
}

static int wal_fetch(sqlite3_file *file, sqlite3_int64 offset, int n, void **out) {
    WalFile *f = (WalFile *)file;
    FLUSHED(f);
    return f->real->pMethods->xFetch(f->real, offset, n, out);
}

static int wal_unfetch(sqlite3_file *file, sqlite3_int64 offset, void *p) {
    WalFile *f = (WalFile *)file;
    return f->real->pMethods->xUnfetch(f->real, offset, p);
}

static const sqlite3_io_methods wal_methods = {
    3,
    wal_close,
    wal_read,
    wal_write,
    wal_truncate,
    wal_sync,
    wal_file_size,
    wal_lock,
    wal_unlock,
    wal_check_reserved_lock,
    wal_file_control,
    wal_sector_size,
    wal_device_characteristics,
    wal_shm_map,
    wal_shm_lock,
    wal_shm_barrier,
    wal_shm_unmap,
    wal_fetch,
    wal_unfetch,
};

static int wal_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *file, int flags, int *out_flags) {
    (void)vfs;
    WalFile *f = (WalFile *)file;
    memset(f, 0, sizeof *f);
    f->real = (sqlite3_file *)&f[1];
    int rc = base_vfs->xOpen(base_vfs, name, f->real, flags, out_flags);
    if (rc != SQLITE_OK) {
        if (f->real->pMethods) f->real->pMethods->xClose(f->real);
        f->base.pMethods = NULL;
        return rc;
    }
    // The shm and fetch methods exist from version 3 on; the base's files have them all.
    if (f->real->pMethods->iVersion < 3) {
        f->real->pMethods->xClose(f->real);
        f->base.pMethods = NULL;
        return SQLITE_CANTOPEN;
    }
    f->wal = (flags & SQLITE_OPEN_WAL) != 0;
    f->base.pMethods = &wal_methods;
    return SQLITE_OK;
}

// The rest of the VFS is the base's, called with the base's own VFS object.
static int vfs_delete(sqlite3_vfs *v, const char *name, int sync_dir) {
    (void)v;
    return base_vfs->xDelete(base_vfs, name, sync_dir);
}
static int vfs_access(sqlite3_vfs *v, const char *name, int flags, int *out) {
    (void)v;
    return base_vfs->xAccess(base_vfs, name, flags, out);
}
static int vfs_full_pathname(sqlite3_vfs *v, const char *name, int n, char *out) {
    (void)v;
    return base_vfs->xFullPathname(base_vfs, name, n, out);
}
static void *vfs_dl_open(sqlite3_vfs *v, const char *name) {
    (void)v;
    return base_vfs->xDlOpen(base_vfs, name);
}
static void vfs_dl_error(sqlite3_vfs *v, int n, char *out) {
    (void)v;
    base_vfs->xDlError(base_vfs, n, out);
}
static void (*vfs_dl_sym(sqlite3_vfs *v, void *lib, const char *sym))(void) {
    (void)v;
    return base_vfs->xDlSym(base_vfs, lib, sym);
}
static void vfs_dl_close(sqlite3_vfs *v, void *lib) {
    (void)v;
    base_vfs->xDlClose(base_vfs, lib);
}
static int vfs_randomness(sqlite3_vfs *v, int n, char *out) {
    (void)v;
    return base_vfs->xRandomness(base_vfs, n, out);
}
static int vfs_sleep(sqlite3_vfs *v, int us) {
    (void)v;
    return base_vfs->xSleep(base_vfs, us);
}
static int vfs_current_time(sqlite3_vfs *v, double *out) {
    (void)v;
    return base_vfs->xCurrentTime(base_vfs, out);
}
static int vfs_get_last_error(sqlite3_vfs *v, int n, char *out) {
    (void)v;
    return base_vfs->xGetLastError ? base_vfs->xGetLastError(base_vfs, n, out) : 0;
}
static int vfs_current_time_int64(sqlite3_vfs *v, sqlite3_int64 *out) {
    (void)v;
    return base_vfs->xCurrentTimeInt64(base_vfs, out);
}

int jk_sqlite_register_wal_vfs(const char *name, const char *base) {
    static sqlite3_vfs vfs;
    if (base_vfs) return SQLITE_OK;
    sqlite3_vfs *b = sqlite3_vfs_find(base);
    if (!b || b->iVersion < 2) return SQLITE_ERROR;
    base_vfs = b;
    vfs.iVersion = 2;
    vfs.szOsFile = (int)sizeof(WalFile) + b->szOsFile;
    vfs.mxPathname = b->mxPathname;
    vfs.zName = strdup(name);
    if (!vfs.zName) return SQLITE_NOMEM;
    vfs.xOpen = wal_open;
    vfs.xDelete = vfs_delete;
    vfs.xAccess = vfs_access;
    vfs.xFullPathname = vfs_full_pathname;
    vfs.xDlOpen = vfs_dl_open;
    vfs.xDlError = vfs_dl_error;
    vfs.xDlSym = vfs_dl_sym;
    vfs.xDlClose = vfs_dl_close;
    vfs.xRandomness = vfs_randomness;
    vfs.xSleep = vfs_sleep;
    vfs.xCurrentTime = vfs_current_time;
    vfs.xGetLastError = vfs_get_last_error;
    vfs.xCurrentTimeInt64 = vfs_current_time_int64;
    return sqlite3_vfs_register(&vfs, 0);
}

long jk_sqlite_wal_vfs_writes(void) { return writes_made; }
