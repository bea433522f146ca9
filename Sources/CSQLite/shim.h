#ifndef JOBKERNEL_CSQLITE_SHIM_H
#define JOBKERNEL_CSQLITE_SHIM_H
#include <malloc.h>
#include <sqlite3.h>

/// SQLITE_TRANSIENT is a macro casting -1 to a function pointer; Swift cannot import it.
static inline sqlite3_destructor_type jk_sqlite_transient(void) { return SQLITE_TRANSIENT; }

/// sqlite3_config is variadic. Memory statistics cost a mutex and bookkeeping on every
/// allocation; the kernel never reads them. Must run before the first connection is opened.
static inline int jk_sqlite_disable_memstatus(void) { return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); }

/// The store's writer thread frees, batch after batch, what the loop thread allocated: without a
/// higher trim threshold its malloc arena gives its top back to the system after nearly every
/// batch and takes it again for the next one (an mprotect each way). mallopt is in <malloc.h>,
/// which Swift's Glibc module does not import.
static inline int jk_malloc_keep_top(int bytes) { return mallopt(M_TRIM_THRESHOLD, bytes); }
#endif
