#ifndef JOBKERNEL_CSQLITE_SHIM_H
#define JOBKERNEL_CSQLITE_SHIM_H
#include <sqlite3.h>

/// SQLITE_TRANSIENT is a macro casting -1 to a function pointer; Swift cannot import it.
static inline sqlite3_destructor_type jk_sqlite_transient(void) { return SQLITE_TRANSIENT; }

/// sqlite3_config is variadic. Memory statistics cost a mutex and bookkeeping on every
/// allocation; the kernel never reads them. Must run before the first connection is opened.
static inline int jk_sqlite_disable_memstatus(void) { return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); }

#endif
