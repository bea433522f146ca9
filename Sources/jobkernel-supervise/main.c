/*
 * jobkernel-supervise: runs one handler or worker so that nothing it starts outlives the kernel.
 *
 *   jobkernel-supervise [--parent PID] [--] COMMAND [ARG...]
 *
 * The supervisor leads its own session and process group; COMMAND runs in that group, exec'd
 * with execvp (argv as given, never a shell) and with only descriptors 0, 1 and 2 open.
 *
 * Signals (all handled synchronously with sigwaitinfo, so there is no signal handler at all):
 *  - SIGTERM, SIGINT, SIGHUP, SIGQUIT are relayed to the whole group, except
 *      - our own relay coming back to us (si_pid is ours), and
 *      - a plain kill() from the parent (the kernel): the kernel signals the group with
 *        kill(-pgid), which has already reached every member, so relaying would deliver the
 *        signal twice (a "second SIGTERM means force quit" program would skip its grace period).
 *        The kernel uses sigqueue() (si_code SI_QUEUE) when it wants a relay.
 *  - Parent death (PR_SET_PDEATHSIG, SIGTERM, and getppid() no longer the parent): every
 *    descendant is SIGKILLed and reaped, then the supervisor exits.
 *
 * The supervisor is a child subreaper, so descendants that lose their parent (a background job
 * of a shell that exited, a daemon that double-forked) are reparented to it. When COMMAND exits,
 * every remaining descendant is SIGKILLed and reaped, then the supervisor exits with COMMAND's
 * exit status, or, if COMMAND died of a signal, dies of the same signal (no core dump).
 *
 * Exit status of the supervisor's own failures: 125 (bad usage, fork failure, parent already
 * gone); 127 when COMMAND cannot be executed (the reason is written to stderr).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define EXIT_SUPERVISOR_FAILED 125
#define EXIT_CANNOT_EXEC 127

static const char *const program = "jobkernel-supervise";

static void usage(void) {
    fprintf(stderr, "usage: %s [--parent PID] [--] COMMAND [ARG...]\n", program);
    exit(EXIT_SUPERVISOR_FAILED);
}

/* Closes every descriptor above 2, so neither we nor COMMAND hold a stray pipe end of the kernel. */
static void close_other_fds(void) {
#ifdef SYS_close_range
    if (syscall(SYS_close_range, 3U, ~0U, 0U) == 0) return;
#endif
    DIR *dir = opendir("/proc/self/fd");
    if (dir == NULL) {
        long max = sysconf(_SC_OPEN_MAX);
        if (max < 0 || max > 65536) max = 65536;
        for (int fd = 3; fd < max; fd++) close(fd);
        return;
    }
    int keep = dirfd(dir);
    int fds[1024];
    int count = 0;
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL && count < 1024) {
        char *end;
        long fd = strtol(entry->d_name, &end, 10);
        if (*end == '\0' && end != entry->d_name && fd > 2 && fd != keep) fds[count++] = (int)fd;
    }
    closedir(dir);
    for (int i = 0; i < count; i++) close(fds[i]);
}

/* SIGKILLs every direct child; returns how many were signalled. */
static int kill_children(void) {
    pid_t self = getpid();
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/children", (int)self);
    FILE *file = fopen(path, "re");
    int killed = 0;
    if (file != NULL) {
        /* CONFIG_PROC_CHILDREN: "pid pid pid ". A single-threaded process's task lists them all. */
        int pid;
        while (fscanf(file, "%d", &pid) == 1) {
            if (pid > 0 && kill(pid, SIGKILL) == 0) killed++;
        }
        fclose(file);
        return killed;
    }
    /* Without that file: scan /proc for processes whose parent is us. */
    DIR *proc = opendir("/proc");
    if (proc == NULL) return 0;
    struct dirent *entry;
    while ((entry = readdir(proc)) != NULL) {
        char *end;
        long pid = strtol(entry->d_name, &end, 10);
        if (*end != '\0' || end == entry->d_name || pid <= 0) continue;
        char stat_path[64];
        char line[512];
        snprintf(stat_path, sizeof stat_path, "/proc/%ld/stat", pid);
        FILE *stat = fopen(stat_path, "re");
        if (stat == NULL) continue;
        size_t n = fread(line, 1, sizeof line - 1, stat);
        fclose(stat);
        line[n] = '\0';
        /* "pid (comm) state ppid ...": comm may contain anything, so parse after the last ')'. */
        char *close_paren = strrchr(line, ')');
        char state;
        int ppid;
        if (close_paren == NULL || sscanf(close_paren + 1, " %c %d", &state, &ppid) != 2) continue;
        /* Our children cannot be reaped (and their pid reused) by anyone but us: no race here. */
        if (ppid == self && kill((pid_t)pid, SIGKILL) == 0) killed++;
    }
    closedir(proc);
    return killed;
}

/*
 * SIGKILLs and reaps every descendant. Killing a child hands its own children to us (we are a
 * subreaper), so this repeats until we have no child at all. A descendant that cannot be killed
 * (another uid, stuck in uninterruptible sleep) is given up on after about 5 s.
 */
static void kill_descendants(void) {
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    const struct timespec tick = { 0, 20 * 1000 * 1000 };
    for (int round = 0; round < 250; round++) {
        pid_t pid;
        int status;
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {}
        if (pid < 0) return; /* ECHILD: no descendant is left. */
        kill_children();
        sigtimedwait(&chld, NULL, &tick);
    }
}

/* Dies of `sig`, as the child did, without leaving a core file of our own. */
static void die_of(int sig) {
    struct rlimit none = { 0, 0 };
    setrlimit(RLIMIT_CORE, &none);
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    signal(sig, SIG_DFL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    raise(sig);
    /* A signal whose default action is not to terminate: report it the way shells do. */
    _exit(128 + sig);
}

/* Reaps every child that has exited; returns 1 (and its status) once `child` was among them. */
static int reap(pid_t child, int *child_status) {
    int found = 0;
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        if (pid == child) {
            *child_status = status;
            found = 1;
        }
    }
    return found;
}

static pid_t parse_pid(const char *text) {
    char *end;
    errno = 0;
    long value = strtol(text, &end, 10);
    if (errno != 0 || *end != '\0' || end == text || value <= 0 || value > INT_MAX) usage();
    return (pid_t)value;
}

int main(int argc, char **argv) {
    pid_t parent = getppid();
    int first = 1;
    while (first < argc && argv[first][0] == '-') {
        if (strcmp(argv[first], "--") == 0) {
            first++;
            break;
        }
        if (strcmp(argv[first], "--parent") == 0 && first + 1 < argc) {
            parent = parse_pid(argv[first + 1]);
            first += 2;
            continue;
        }
        usage();
    }
    if (first >= argc) usage();

    /* Lead a session and group of our own. Fails harmlessly if we already lead a group
     * (libuv's UV_PROCESS_DETACHED did setsid() for us; a job-control shell made us a leader). */
    if (setsid() < 0 && getpgrp() != getpid()) {
        fprintf(stderr, "%s: setsid: %s\n", program, strerror(errno));
        return EXIT_SUPERVISOR_FAILED;
    }

    /* Every signal we act on is taken with sigwaitinfo, never by a handler. SIGCHLD must not be
     * ignored (an ignored SIGCHLD auto-reaps children and we would lose the exit status). */
    signal(SIGCHLD, SIG_DFL);
    sigset_t handled;
    sigset_t inherited;
    sigemptyset(&handled);
    sigaddset(&handled, SIGTERM);
    sigaddset(&handled, SIGINT);
    sigaddset(&handled, SIGHUP);
    sigaddset(&handled, SIGQUIT);
    sigaddset(&handled, SIGCHLD);
    sigprocmask(SIG_BLOCK, &handled, &inherited);

    prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    /* The parent-death signal is sent when the parent *thread* exits: spawn from a thread that
     * lives as long as the kernel (the loop thread). It stays pending (blocked) until we wait. */
    prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0);
    if (getppid() != parent) {
        /* The kernel died before the death signal was armed: nothing was started yet. */
        return EXIT_SUPERVISOR_FAILED;
    }

    close_other_fds();

    pid_t self = getpid();
    pid_t child = fork();
    if (child < 0) {
        fprintf(stderr, "%s: fork: %s\n", program, strerror(errno));
        return EXIT_SUPERVISOR_FAILED;
    }
    if (child == 0) {
        /* If the supervisor itself is SIGKILLed, COMMAND goes with it. */
        prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        if (getppid() != self) _exit(EXIT_SUPERVISOR_FAILED);
        sigprocmask(SIG_SETMASK, &inherited, NULL);
        execvp(argv[first], &argv[first]);
        fprintf(stderr, "%s: cannot run '%s': %s\n", program, argv[first], strerror(errno));
        _exit(EXIT_CANNOT_EXEC);
    }

    int child_status = 0;
    for (;;) {
        siginfo_t info;
        int sig = sigwaitinfo(&handled, &info);
        if (sig < 0) {
            if (errno == EINTR) continue;
            fprintf(stderr, "%s: sigwaitinfo: %s\n", program, strerror(errno));
            kill_descendants();
            return EXIT_SUPERVISOR_FAILED;
        }
        if (sig == SIGCHLD) {
            if (reap(child, &child_status)) break;
            continue;
        }
        if (getppid() != parent) {
            /* The kernel is gone (parent-death signal, or we noticed it now): nothing may outlive it. */
            kill_descendants();
            _exit(128 + SIGKILL);
        }
        if (info.si_pid == self) continue;
        if (info.si_code == SI_USER && info.si_pid == parent) continue;
        kill(-getpgrp(), sig);
    }

    kill_descendants();
    if (WIFEXITED(child_status)) return WEXITSTATUS(child_status);
    if (WIFSIGNALED(child_status)) die_of(WTERMSIG(child_status));
    return EXIT_SUPERVISOR_FAILED;
}
