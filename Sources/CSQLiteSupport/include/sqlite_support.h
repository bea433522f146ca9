#ifndef JOBKERNEL_SQLITE_SUPPORT_H
#define JOBKERNEL_SQLITE_SUPPORT_H

/// Registers the VFS `name`: the VFS `base`, with each transaction's writes to a WAL file
/// gathered and written at its commit in one system call (see wal_vfs.c). Returns SQLite's
/// result code.
int jk_sqlite_register_wal_vfs(const char *name, const char *base);

/// System calls the calling thread made to write WAL files through that VFS (for tests).
long jk_sqlite_wal_vfs_writes(void);

#endif
