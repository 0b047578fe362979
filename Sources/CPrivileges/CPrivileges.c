#define _GNU_SOURCE
#include "CPrivileges.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_IS_SET 1
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif

int mcp_capabilities(uint64_t *effective, uint64_t *permitted, uint64_t *inheritable) {
    struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2] = {{0}};
    if (syscall(SYS_capget, &header, data) != 0) return errno;
    *effective = (uint64_t)data[1].effective << 32 | data[0].effective;
    *permitted = (uint64_t)data[1].permitted << 32 | data[0].permitted;
    *inheritable = (uint64_t)data[1].inheritable << 32 | data[0].inheritable;
    return 0;
}

uint64_t mcp_ambient_capabilities(void) {
    uint64_t mask = 0;
    for (int cap = 0; cap < 64; cap++) {
        int set = prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap, 0, 0);
        if (set < 0) break;  // beyond the kernel's last capability, or no ambient support
        if (set == 1) mask |= (uint64_t)1 << cap;
    }
    return mask;
}

static int set_capabilities(uint64_t keep) {
    struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2] = {{0}};
    data[0].effective = data[0].permitted = (uint32_t)keep;
    data[1].effective = data[1].permitted = (uint32_t)(keep >> 32);
    return syscall(SYS_capset, &header, data) == 0 ? 0 : errno;
}

#define FAIL(name) do { *step = name; return errno ? errno : EPERM; } while (0)

int mcp_switch_identity(uid_t uid, gid_t gid, uint64_t keep, const char **step) {
    *step = "";
    errno = 0;
    // With CAP_SETPCAP (root outside a container), shrink the bounding set to `keep` as well,
    // so nothing started later can regain a capability through a file capability.
    uint64_t effective = 0, permitted = 0, inheritable = 0;
    if (mcp_capabilities(&effective, &permitted, &inheritable) == 0 && (effective & ((uint64_t)1 << CAP_SETPCAP))) {
        for (int cap = 0; cap < 64; cap++) {
            if (keep & ((uint64_t)1 << cap)) continue;
            if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
                if (errno == EINVAL) break;  // past the kernel's last capability
                FAIL("prctl(PR_CAPBSET_DROP)");
            }
        }
    }
    errno = 0;
    // Keep the permitted set across the uid change; only what `keep` names survives below.
    if (keep != 0 && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) FAIL("prctl(PR_SET_KEEPCAPS)");
    if (getuid() != uid || geteuid() != uid || getgid() != gid || getegid() != gid) {
        if (setgroups(0, NULL) != 0) FAIL("setgroups");
        if (setresgid(gid, gid, gid) != 0) FAIL("setresgid");
        if (setresuid(uid, uid, uid) != 0) FAIL("setresuid");
    } else {
        // Already this identity: still shed any supplementary group we may shed.
        (void)setgroups(0, NULL);
    }
    int failed = set_capabilities(keep);
    if (failed != 0) { *step = "capset"; return failed; }
    if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0) FAIL("prctl(PR_SET_KEEPCAPS, 0)");
    // Older kernels have no ambient set; there is then nothing to clear.
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) FAIL("prctl(PR_CAP_AMBIENT_CLEAR_ALL)");
    errno = 0;
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) FAIL("prctl(PR_SET_NO_NEW_PRIVS)");
    // Not dumpable: /proc/PID/{environ,mem,fd} become root-owned and ptrace is refused, even to
    // processes of the same uid (nginx, a tunnel agent).
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) FAIL("prctl(PR_SET_DUMPABLE)");
    uid_t ruid, euid, suid;
    gid_t rgid, egid, sgid;
    if (getresuid(&ruid, &euid, &suid) != 0 || getresgid(&rgid, &egid, &sgid) != 0) FAIL("getresuid");
    if (ruid != uid || euid != uid || suid != uid || rgid != gid || egid != gid || sgid != gid) {
        *step = "verifying the new identity";
        return EPERM;
    }
    return 0;
}
