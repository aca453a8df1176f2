"""The OS boundary around a sandboxed child: what holds even if the restricted compiler is escaped.

Two steps, in two processes (see forkserver.py):

* `confine_supervisor`, in the supervisor before it forks the child: new PID, network, mount, IPC and
  UTS namespaces (through a user namespace when the harness is not root), an empty read-only root
  (a private tmpfs, then chroot), and no privileges: as root the supervisor becomes `nobody` with no
  capabilities; as an ordinary user it drops every capability the user namespace gave it.
* `confine_child`, in the child (PID 1 of the new namespace): resource limits, no-new-privileges,
  then the system-call filter (syscalls.py).

Where the platform lacks a mechanism (no user namespaces for an ordinary user, no libseccomp, not
Linux), the step is skipped and named in the `Isolation` report that travels into the result record;
`--require-isolation` refuses to run with anything missing.
"""
from __future__ import annotations

import ctypes
import os
import resource
import signal
import sys
from dataclasses import dataclass, field

from ..spec import Limits
from . import syscalls

NOBODY = 65534
MAX_PROCESSES = 128
MAX_OPEN_FILES = 64
CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
NAMESPACES = {"pid": CLONE_NEWPID, "network": CLONE_NEWNET, "mount": CLONE_NEWNS, "ipc": CLONE_NEWIPC,
              "uts": CLONE_NEWUTS}
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REC, MS_PRIVATE = 1, 2, 4, 8, 0x4000, 1 << 18
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS, PR_CAPBSET_DROP, PR_SET_CHILD_SUBREAPER = 1, 38, 24, 36
LINUX_CAPABILITY_VERSION_3 = 0x20080522
EMPTY_ROOT_CANDIDATES = ("/tmp", "/mnt", "/var/tmp")
FULL = "full"


@dataclass(frozen=True)
class IsolationPolicy:
    """Which layers to apply. The harness always applies all; tests switch one off to prove another alone."""

    namespaces: bool = True
    syscall_filter: bool = True


@dataclass(frozen=True)
class Isolation:
    """What a child actually had, for the record's provenance and the one-line warning."""

    user: str = "unchanged"
    namespaces: tuple[str, ...] = ()
    empty_root: bool = False
    capabilities: str = "unchanged"
    no_new_privs: bool = False
    syscall_filter: bool = False
    missing: tuple[str, ...] = field(default=())

    @property
    def level(self) -> str:
        return FULL if not self.missing else "partial"

    def as_record(self) -> dict:
        return {"level": self.level, "user": self.user, "namespaces": list(self.namespaces),
                "empty_root": self.empty_root, "capabilities": self.capabilities,
                "no_new_privs": self.no_new_privs, "syscall_filter": self.syscall_filter,
                "missing": list(self.missing)}

    @classmethod
    def from_record(cls, data: dict) -> "Isolation":
        return cls(str(data["user"]), tuple(data["namespaces"]), bool(data["empty_root"]),
                   str(data["capabilities"]), bool(data["no_new_privs"]), bool(data["syscall_filter"]),
                   tuple(data["missing"]))


def libc():
    return ctypes.CDLL(None, use_errno=True)


def check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def write_file(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


class CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def effective_capabilities() -> int:
    """The effective capability set (from capget: /proc may already be hidden)."""
    header, data = CapHeader(LINUX_CAPABILITY_VERSION_3, 0), (CapData * 2)()
    if libc().capget(ctypes.byref(header), data) != 0:
        return -1
    return data[0].effective | (data[1].effective << 32)


def drop_all_capabilities(lib) -> None:
    """Empty the bounding set, then the effective, permitted and inheritable sets."""
    last = 63
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            last = int(f.read())
    except (OSError, ValueError):
        pass
    for cap in range(last + 1):
        lib.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)  # needs CAP_SETPCAP; without it the bounding set stays
    check(lib.capset(ctypes.byref(CapHeader(LINUX_CAPABILITY_VERSION_3, 0)), (CapData * 2)()), "capset")


def enter_namespaces(lib) -> tuple[tuple[str, ...], bool]:
    """(namespaces entered, through a user namespace?). Root needs no user namespace; an ordinary user
    gets the privileges to make the others from one, mapping only its own uid and gid."""
    flags = 0
    for flag in NAMESPACES.values():
        flags |= flag
    if os.geteuid() == 0:
        check(lib.unshare(flags), "unshare")
        return tuple(NAMESPACES), False
    uid, gid = os.geteuid(), os.getegid()
    check(lib.unshare(flags | CLONE_NEWUSER), "unshare (user namespace)")
    write_file("/proc/self/setgroups", "deny")
    write_file("/proc/self/uid_map", f"{uid} {uid} 1")
    write_file("/proc/self/gid_map", f"{gid} {gid} 1")
    return ("user",) + tuple(NAMESPACES), True


def enter_empty_root(lib) -> None:
    """Make every mount private, put an empty read-only tmpfs somewhere, and chroot into it: the child
    sees no file at all (its pipes and /dev/null were opened before)."""
    check(lib.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "mount --make-rprivate /")
    flags = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC
    for place in EMPTY_ROOT_CANDIDATES:
        if os.path.isdir(place) and lib.mount(b"adrs-empty", place.encode(), b"tmpfs", flags, b"size=4k,mode=0555") == 0:
            os.chroot(place)
            os.chdir("/")
            return
    raise OSError(f"no directory to mount an empty root on (tried {', '.join(EMPTY_ROOT_CANDIDATES)})")


def become_nobody() -> None:
    os.setgroups([])
    os.setresgid(NOBODY, NOBODY, NOBODY)
    os.setresuid(NOBODY, NOBODY, NOBODY)  # from uid 0 to none: the kernel clears every capability


def confine_supervisor(policy: IsolationPolicy) -> Isolation:
    """Namespaces, empty root, no privileges. Never raises: what fails is reported as missing."""
    if not sys.platform.startswith("linux"):
        return Isolation(missing=("Linux namespaces, seccomp and capabilities (not Linux)",))
    lib = libc()
    missing: list[str] = []
    namespaces: tuple[str, ...] = ()
    in_user_namespace = False
    empty_root = False
    root = os.geteuid() == 0
    if policy.namespaces:
        try:
            namespaces, in_user_namespace = enter_namespaces(lib)
        except OSError as exc:
            missing.append(f"namespaces ({exc.strerror or exc}; an ordinary user needs user namespaces)")
        if namespaces:
            try:
                enter_empty_root(lib)
                empty_root = True
            except OSError as exc:
                missing.append(f"empty file-system root ({exc.strerror or exc})")
    else:
        missing.append("namespaces (switched off)")
    if root:
        try:
            become_nobody()
            user, capabilities = "nobody", "none"
        except OSError as exc:  # a rootless container may have no `nobody` to become
            user, capabilities = "root", "unchanged"
            missing.append(f"an unprivileged user ({exc.strerror or exc})")
    else:
        user = f"uid {os.geteuid()} (the harness's own)"
        try:
            drop_all_capabilities(lib)  # in the user namespace, or whatever file/ambient ones it held
        except OSError:
            pass
        capabilities = "none" if effective_capabilities() == 0 else "some left"
        if capabilities != "none":
            missing.append("dropping capabilities")
    lib.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    lib.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # after the uid change, which clears it
    if not policy.syscall_filter:
        missing.append("seccomp filter (switched off)")
    else:
        module, why = syscalls.load_module()
        if module is None:
            missing.append(why)
    return Isolation(user, namespaces, empty_root, capabilities, True, policy.syscall_filter and not any(
        m.startswith("seccomp") for m in missing), tuple(missing))


def address_space_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * resource.getpagesize()


def confine_child(limits: Limits, address_space: int, isolation: Isolation) -> None:
    """Limits first (the filter forbids changing them), then the filter. `address_space` is what the
    process maps before the submission loads (read before the empty root hid /proc)."""
    lib = libc()
    lib.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if "pid" not in isolation.namespaces:
        lib.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)  # orphans stay below the child, so the reaper finds them
    cap = address_space + limits.memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    # soft = hard: SIGKILL at the limit (a namespace's init ignores the SIGXCPU a lower soft limit sends)
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NPROC, (MAX_PROCESSES, MAX_PROCESSES))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(MAX_OPEN_FILES, hard), min(MAX_OPEN_FILES, hard)))
    lib.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    if isolation.syscall_filter:
        module, _ = syscalls.load_module()
        syscalls.build_filter(module).load()
