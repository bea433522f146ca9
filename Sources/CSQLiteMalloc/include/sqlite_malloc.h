#ifndef JOBKERNEL_SQLITE_MALLOC_H
#define JOBKERNEL_SQLITE_MALLOC_H

/// Makes SQLite allocate through per-thread caches of small blocks (see sqlite_malloc.c).
/// Must run before the first connection is opened; returns SQLite's result code.
int jk_sqlite_use_block_cache(void);

/// Blocks the calling thread's cache holds now (for tests).
long jk_sqlite_block_cache_count(void);

#endif
