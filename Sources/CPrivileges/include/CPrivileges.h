#ifndef MCP_SANDBOX_CPRIVILEGES_H
#define MCP_SANDBOX_CPRIVILEGES_H

#include <stdint.h>
#include <sys/types.h>

/// Capability bits used by the bridge (values from <linux/capability.h>).
#define MCP_CAP_KILL 5
#define MCP_CAP_SETGID 6
#define MCP_CAP_SETUID 7

/// The calling thread's capability sets, as 64-bit masks. Returns 0 or an errno value.
int mcp_capabilities(uint64_t *effective, uint64_t *permitted, uint64_t *inheritable);

/// The ambient set as a mask of the first 64 capabilities (0 where unsupported).
uint64_t mcp_ambient_capabilities(void);

/// Becomes uid:gid with no supplementary groups, keeping exactly `keep` as the permitted and
/// effective capabilities (nothing inheritable, nothing ambient), then sets no_new_privs and
/// clears the dumpable flag. Capabilities and keep-caps are per thread: call this only while
/// the process has a single thread. Returns 0, or an errno value with `*step` naming the call
/// that failed.
int mcp_switch_identity(uid_t uid, gid_t gid, uint64_t keep, const char **step);

/// What `mcp_spawn` starts: `argv` and `envp` NULL-terminated; the three descriptors become
/// the child's 0, 1 and 2 (everything else is closed at exec).
struct mcp_spawn_request {
    const char *path;
    char *const *argv;
    char *const *envp;
    const char *working_directory;  // NULL: the bridge's own
    int stdin_fd;
    int stdout_fd;
    int stderr_fd;
    int switch_identity;            // become uid:gid with no supplementary groups before exec
    uid_t uid;
    gid_t gid;
};

/// Starts a process in its own session (by vfork: the calling thread waits until it has
/// exec'd). Returns 0 with `*pid` set, or an errno value with `*step` naming the call that
/// failed (in the child before exec, or the spawn itself); a child that failed is reaped.
int mcp_spawn(const struct mcp_spawn_request *request, pid_t *pid, const char **step);

/// Whether child `pid` has ended, without blocking: `*exited`, then its exit `*code` or the
/// `*signal_number` that ended it. With `reap` 0 it stays a zombie (its pid, which is also its
/// process group's id, cannot be reused); with `reap` 1 it is reaped. Returns 0 or an errno.
int mcp_child_state(pid_t pid, int reap, int *exited, int *code, int *signal_number);

#endif
