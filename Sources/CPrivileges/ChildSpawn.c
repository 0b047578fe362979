#define _GNU_SOURCE
#include "CPrivileges.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/// Shared between the parent and the child (CLONE_VM): the request, and why the child failed.
struct spawn_shared {
    const struct mcp_spawn_request *request;
    int error;
    const char *step;
};

#define CHILD_FAIL(name) do { shared->error = errno ? errno : EPERM; shared->step = name; _exit(127); } while (0)

/// Runs in the child, on its own stack, sharing the parent's memory until execve: only system
/// calls here (raw ones for the identity: glibc's set*id wrappers would signal the parent's
/// threads to change their ids too).
static int spawn_child(void *argument) {
    struct spawn_shared *shared = argument;
    const struct mcp_spawn_request *request = shared->request;
    // Default dispositions: a signal the bridge ignores would stay ignored across execve.
    struct sigaction fallback = {0};
    fallback.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig != SIGKILL && sig != SIGSTOP) (void)sigaction(sig, &fallback, NULL);
    }
    sigset_t none;
    sigemptyset(&none);
    if (sigprocmask(SIG_SETMASK, &none, NULL) != 0) CHILD_FAIL("sigprocmask");
    // Its own session, so the shutdown ladder can signal everything it starts as one group.
    if (setsid() < 0) CHILD_FAIL("setsid");
    if (request->working_directory != NULL && chdir(request->working_directory) != 0) CHILD_FAIL("chdir");
    if (request->switch_identity) {
        if (syscall(SYS_setgroups, 0, NULL) != 0) CHILD_FAIL("setgroups");
        if (syscall(SYS_setresgid, request->gid, request->gid, request->gid) != 0) CHILD_FAIL("setresgid");
        if (syscall(SYS_setresuid, request->uid, request->uid, request->uid) != 0) CHILD_FAIL("setresuid");
    }
    // Lift the three ends above 2 first, so placing one on 0–2 cannot overwrite another.
    int lifted[3];
    const int ends[3] = {request->stdin_fd, request->stdout_fd, request->stderr_fd};
    for (int index = 0; index < 3; index++) {
        lifted[index] = fcntl(ends[index], F_DUPFD_CLOEXEC, 3);
        if (lifted[index] < 0) CHILD_FAIL("fcntl(F_DUPFD_CLOEXEC)");
    }
    for (int index = 0; index < 3; index++) {
        if (dup2(lifted[index], index) < 0) CHILD_FAIL("dup2");  // the copy on 0–2 is not close-on-exec
    }
    // Nothing else crosses execve, whatever its flags.
    if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
        struct rlimit limit = {0};
        rlim_t highest = getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < 65536 ? limit.rlim_cur : 65536;
        for (int fd = 3; fd < (int)highest; fd++) (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
    execve(request->path, request->argv, request->envp);
    CHILD_FAIL("execve");
}

int mcp_spawn(const struct mcp_spawn_request *request, pid_t *pid, const char **step) {
    *step = "";
    // The child runs on its own stack while the parent's thread waits (CLONE_VFORK), so it never
    // copies the bridge's page tables the way fork does.
    const size_t stack_size = 64 << 10;
    void *stack = mmap(NULL, stack_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) {
        *step = "mmap";
        return errno;
    }
    struct spawn_shared shared = {request, 0, ""};
    // No signal handler may run in the child while it shares the parent's memory.
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    pid_t child = clone(spawn_child, (char *)stack + stack_size, CLONE_VM | CLONE_VFORK | SIGCHLD, &shared);
    int clone_error = errno;
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    munmap(stack, stack_size);
    if (child < 0) {
        *step = "clone";
        return clone_error;
    }
    if (shared.error != 0) {
        // It exited before execve: reap it here, nobody else knows it.
        while (waitpid(child, NULL, 0) < 0 && errno == EINTR) {}
        *step = shared.step;
        return shared.error;
    }
    *pid = child;
    return 0;
}

int mcp_child_state(pid_t pid, int reap, int *exited, int *code, int *signal_number) {
    siginfo_t info = {0};
    int options = WEXITED | WNOHANG | (reap ? 0 : WNOWAIT);
    int result;
    do {
        result = waitid(P_PID, (id_t)pid, &info, options);
    } while (result < 0 && errno == EINTR);
    if (result < 0) return errno;
    *exited = info.si_pid == pid;
    *code = 0;
    *signal_number = 0;
    if (*exited) {
        if (info.si_code == CLD_EXITED) *code = info.si_status;
        else *signal_number = info.si_status;
    }
    return 0;
}
