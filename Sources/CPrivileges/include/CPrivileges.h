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

#endif
