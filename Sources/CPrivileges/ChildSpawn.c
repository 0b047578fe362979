#define _GNU_SOURCE
#include "CPrivileges.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/// What the child reports through its pipe when a step before execve fails.
struct spawn_failure {
    int error;
    int step;
};

static const char *const spawn_steps[] = {
    "sigprocmask", "setsid", "chdir", "setgroups", "setresgid", "setresuid", "fcntl(F_DUPFD_CLOEXEC)", "dup3", "execve",
};
enum { STEP_SIGPROCMASK, STEP_SETSID, STEP_CHDIR, STEP_SETGROUPS, STEP_SETRESGID, STEP_SETRESUID, STEP_DUPFD, STEP_DUP3, STEP_EXECVE };

/// The failure goes to the parent through `report` (close-on-exec, so a successful execve
/// closes it with nothing written), then the child exits.
__attribute__((noreturn, disable_sanitizer_instrumentation, no_sanitize("address", "thread", "undefined")))
static void child_fail(int report, int step) {
    struct spawn_failure failure = {errno ? errno : EPERM, step};
    (void)syscall(SYS_write, report, &failure, sizeof failure);
    syscall(SYS_exit_group, 127);
    __builtin_unreachable();
}

/// Runs in the vfork child, on the parent's stack below its frame and sharing its memory until
/// execve. Raw system calls only: glibc's set*id wrappers would ask the parent's threads to
/// change ids too, and a sanitizer's interceptors (sigaction, dup2, fcntl, close) would update
/// the parent's bookkeeping from here; nor is it instrumented, for the same reason.
__attribute__((noreturn, noinline, disable_sanitizer_instrumentation, no_sanitize("address", "thread", "undefined")))
static void spawn_child(const struct mcp_spawn_request *request, int report_end) {
    errno = 0;
    // Above 0–2 whatever the bridge had open, so the descriptors placed there cannot hit it.
    long report = syscall(SYS_fcntl, report_end, F_DUPFD_CLOEXEC, 3);
    if (report < 0) report = report_end;
    // Default dispositions (an all-zero kernel sigaction is SIG_DFL, no flags, nothing masked,
    // whatever the architecture's layout): a signal the bridge ignores would stay ignored.
    const uint64_t fallback[4] = {0, 0, 0, 0};
    const size_t kernel_sigset_size = (NSIG - 1) / 8;  // 64 signals
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig != SIGKILL && sig != SIGSTOP) (void)syscall(SYS_rt_sigaction, sig, fallback, NULL, kernel_sigset_size);
    }
    const uint64_t none = 0;
    if (syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, kernel_sigset_size) != 0) child_fail((int)report, STEP_SIGPROCMASK);
    // Its own session, so the shutdown ladder can signal everything it starts as one group.
    if (syscall(SYS_setsid) < 0) child_fail((int)report, STEP_SETSID);
    if (request->working_directory != NULL && syscall(SYS_chdir, request->working_directory) != 0) child_fail((int)report, STEP_CHDIR);
    if (request->switch_identity) {
        // Groups, then gid, then uid. Exec'd as a non-root uid with an empty ambient set, the
        // server keeps no capability at all.
        if (syscall(SYS_setgroups, 0, NULL) != 0) child_fail((int)report, STEP_SETGROUPS);
        if (syscall(SYS_setresgid, request->gid, request->gid, request->gid) != 0) child_fail((int)report, STEP_SETRESGID);
        if (syscall(SYS_setresuid, request->uid, request->uid, request->uid) != 0) child_fail((int)report, STEP_SETRESUID);
    }
    // Lift the three ends above 2 first, so placing one on 0–2 cannot overwrite another.
    long lifted[3];
    const int ends[3] = {request->stdin_fd, request->stdout_fd, request->stderr_fd};
    for (int index = 0; index < 3; index++) {
        lifted[index] = syscall(SYS_fcntl, ends[index], F_DUPFD_CLOEXEC, 3);
        if (lifted[index] < 0) child_fail((int)report, STEP_DUPFD);
    }
    for (int index = 0; index < 3; index++) {
        // dup3 (every architecture has it; never equal descriptors here): the copy on 0–2 is
        // not close-on-exec.
        if (syscall(SYS_dup3, lifted[index], index, 0) < 0) child_fail((int)report, STEP_DUP3);
    }
    // Nothing else crosses execve, whatever its flags (kernels before 5.11: marked one by one).
    if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
        struct rlimit limit = {0};
        long highest = syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, &limit) == 0 && limit.rlim_cur < 65536 ? (long)limit.rlim_cur : 65536;
        for (long fd = 3; fd < highest; fd++) (void)syscall(SYS_fcntl, fd, F_SETFD, FD_CLOEXEC);
    }
    syscall(SYS_execve, request->path, request->argv, request->envp);
    child_fail((int)report, STEP_EXECVE);
}

int mcp_spawn(const struct mcp_spawn_request *request, pid_t *pid, const char **step) {
    *step = "";
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) {
        *step = "pipe2";
        return errno;
    }
    // vfork: the child borrows the bridge's memory until execve instead of copying its page
    // tables, and the calling thread waits meanwhile. No signal handler may run in the child.
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    pid_t child = vfork();
    if (child == 0) spawn_child(request, report[1]);
    int vfork_error = errno;
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    close(report[1]);
    if (child < 0) {
        close(report[0]);
        *step = "vfork";
        return vfork_error;
    }
    struct spawn_failure failure = {0, 0};
    ssize_t got;
    do {
        got = read(report[0], &failure, sizeof failure);
    } while (got < 0 && errno == EINTR);
    close(report[0]);
    if (got == (ssize_t)sizeof failure) {
        // It exited before execve: reap it here, nobody else knows it.
        while (waitpid(child, NULL, 0) < 0 && errno == EINTR) {}
        *step = failure.step >= 0 && failure.step <= STEP_EXECVE ? spawn_steps[failure.step] : "spawn";
        return failure.error;
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
