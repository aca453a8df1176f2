"""The child's system-call filter (seccomp-BPF through libseccomp, via the pyseccomp binding).

A deny-list on top of the namespaces: whatever the restricted compiler lets through, the child cannot
make a process or a thread, exec a program, open a socket, signal or trace any process (nor have the
kernel signal one for it, nor change another's priority), open a file for writing or create one, map a file shared and writable, change its limits, identity or capabilities,
or touch mounts and namespaces. Denied calls fail with EPERM (ENOSYS where libc should fall back),
so the submission sees an ordinary OSError rather than a killed process. System calls of foreign
architectures (x86-32 from x86-64) kill the process (libseccomp's default for a bad architecture).
What is not listed is allowed; docs/sandbox.md says why a deny-list and what that leaves.
"""
from __future__ import annotations

import errno
import os
from typing import Any

# Denied outright. Names unknown on this architecture (e.g. `open` on aarch64) are skipped.
DENIED = (
    # processes, threads and programs
    "fork", "vfork", "clone", "execve", "execveat",
    # other processes
    "kill", "tkill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo", "pidfd_open", "pidfd_send_signal",
    "pidfd_getfd", "ptrace", "process_vm_readv", "process_vm_writev", "process_madvise", "kcmp",
    "move_pages", "migrate_pages",
    # the network, and local sockets
    "socket", "socketpair", "connect", "bind", "listen", "accept", "accept4",
    # creating, changing or removing files
    "creat", "mknod", "mknodat", "mkdir", "mkdirat", "rmdir", "unlink", "unlinkat", "rename", "renameat",
    "renameat2", "link", "linkat", "symlink", "symlinkat", "chmod", "fchmod", "fchmodat", "chown", "fchown",
    "lchown", "fchownat", "truncate", "ftruncate", "utime", "utimes", "utimensat", "futimesat", "setxattr",
    "lsetxattr", "fsetxattr", "removexattr", "lremovexattr", "fremovexattr", "memfd_create", "memfd_secret",
    "name_to_handle_at", "open_by_handle_at", "fallocate",
    # limits, identity, capabilities
    "setrlimit", "setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid", "setgroups",
    "setfsuid", "setfsgid", "capset", "personality",
    # mounts, namespaces, the kernel
    "unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "fsopen", "fsmount", "fsconfig",
    "fspick", "move_mount", "open_tree", "mount_setattr", "bpf", "perf_event_open", "keyctl", "add_key",
    "request_key", "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register", "init_module",
    "finit_module", "delete_module", "kexec_load", "kexec_file_load", "reboot", "swapon", "swapoff",
    "acct", "quotactl", "quotactl_fd", "ioperm", "iopl", "syslog", "vhangup", "sethostname",
    "setdomainname", "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "fanotify_init",
    "lookup_dcookie", "process_mrelease",
)
# Denied with ENOSYS: their arguments live in structs a filter cannot read, and libc falls back to the
# older call (clone3 -> clone, openat2 -> openat), which the rules above and below then judge.
NOT_IMPLEMENTED = ("clone3", "openat2")

O_WRITE_BITS = (os.O_WRONLY, os.O_RDWR, os.O_CREAT, os.O_TRUNC, os.O_APPEND)
MAP_SHARED, PROT_WRITE = 0x01, 0x2
PRIO_PROCESS = 0
F_SETOWN, F_SETSIG, F_SETOWN_EX, F_SETPIPE_SZ = 8, 10, 15, 1031
FIOSETOWN, SIOCSPGRP = 0x8901, 0x8902


def build_filter(seccomp: Any):
    """A filter object from the pyseccomp module `seccomp`, not yet loaded."""
    deny, absent = seccomp.ERRNO(errno.EPERM), seccomp.ERRNO(errno.ENOSYS)
    rules = seccomp.SyscallFilter(seccomp.ALLOW)

    def add(action, name, *args):
        try:
            rules.add_rule(action, name, *args)
        except (OSError, ValueError, RuntimeError):
            pass  # not a system call of this architecture

    for name in DENIED:
        add(deny, name)
    for name in NOT_IMPLEMENTED:
        add(absent, name)
    for bit in O_WRITE_BITS:  # opening for writing, whatever the path
        add(deny, "open", seccomp.Arg(1, seccomp.MASKED_EQ, bit, bit))
        add(deny, "openat", seccomp.Arg(2, seccomp.MASKED_EQ, bit, bit))
    add(deny, "mmap", seccomp.Arg(2, seccomp.MASKED_EQ, PROT_WRITE, PROT_WRITE),
        seccomp.Arg(3, seccomp.MASKED_EQ, MAP_SHARED, MAP_SHARED))
    add(deny, "prlimit64", seccomp.Arg(2, seccomp.NE, 0))  # reading limits stays allowed
    # Acting on other processes without naming them by pid: priorities of a group or a user, signals
    # the kernel sends to a file's owner (F_SETOWN + F_SETSIG + O_ASYNC), scheduling of other pids.
    add(deny, "setpriority", seccomp.Arg(0, seccomp.NE, PRIO_PROCESS))
    add(deny, "setpriority", seccomp.Arg(1, seccomp.NE, 0))
    # F_SETPIPE_SZ: shrinking its request pipe would let a child make the harness block on a write.
    for command in (F_SETOWN, F_SETSIG, F_SETOWN_EX, F_SETPIPE_SZ):
        add(deny, "fcntl", seccomp.Arg(1, seccomp.EQ, command))
    for request in (FIOSETOWN, SIOCSPGRP):
        add(deny, "ioctl", seccomp.Arg(1, seccomp.EQ, request))
    for name in ("sched_setscheduler", "sched_setparam", "sched_setaffinity", "sched_setattr"):
        add(deny, name, seccomp.Arg(0, seccomp.NE, 0))
    add(deny, "ioprio_set")
    return rules


def load_module():
    """The pyseccomp module, or the one-line reason it cannot be used here."""
    try:
        import pyseccomp
    except (ImportError, OSError, RuntimeError) as exc:  # no binding, or no libseccomp on the machine
        return None, f"seccomp filter (pyseccomp/libseccomp unavailable: {exc})"
    return pyseccomp, ""
