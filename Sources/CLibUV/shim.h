#ifndef JOBKERNEL_CLIBUV_SHIM_H
#define JOBKERNEL_CLIBUV_SHIM_H
#include <uv.h>
#include <errno.h>
#include <sys/socket.h>

/// Reads SO_PEERCRED of a connected Unix socket; returns 0 or -errno.
/// `struct ucred` needs _GNU_SOURCE, which Swift's Glibc module does not see, so the
/// kernel's layout (pid, uid, gid) is spelled out here.
static inline int jk_peer_credentials(int fd, int *pid, unsigned *uid, unsigned *gid) {
    struct { int pid; unsigned uid; unsigned gid; } cred;
    socklen_t len = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return -errno;
    *pid = cred.pid;
    *uid = cred.uid;
    *gid = cred.gid;
    return 0;
}
#endif
