"""Ending a sandboxed child and everything it started.

With a PID namespace (the normal case) the child is the namespace's init: one SIGKILL to it and the
kernel kills every process in the namespace. Without one (a platform that lacks namespaces), the child
is a subreaper, so orphans stay below it and the tree is walked and killed process by process; a
process made with CLONE_PARENT escapes that walk, which is why the filter forbids making processes.
"""
from __future__ import annotations

import os
import signal
import time


def children_files(pid: int) -> list[int] | None:
    """`pid`'s children from /proc/PID/task/*/children, or None where the kernel lacks those files."""
    try:
        threads = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []  # gone
    found: list[int] = []
    for tid in threads:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                found.extend(int(x) for x in f.read().split())
        except FileNotFoundError:
            if not os.path.exists(f"/proc/{pid}/task/{tid}"):
                continue  # the thread ended meanwhile
            return None
        except OSError:
            continue
    return found


def parents_by_scan() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        tree.setdefault(ppid, []).append(int(name))
    return tree


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (children files; a scan of /proc where they are missing)."""
    found, stack = [], [pid]
    while stack:
        children = children_files(stack.pop())
        if children is None:
            tree = parents_by_scan()
            found, stack = [], list(tree.get(pid, []))
            while stack:
                child = stack.pop()
                found.append(child)
                stack.extend(tree.get(child, []))
            return found
        found.extend(children)
        stack.extend(children)
    return found


def signal_process(pid: int, pidfd: int | None) -> None:
    try:
        if pidfd is not None:
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        else:
            os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, OSError):
        pass


def kill_tree(pid: int, pidfd: int | None, namespace_init: bool) -> None:
    """SIGKILL the child and, where it is not a namespace's init, every process below it."""
    if not namespace_init:
        for _ in range(50):
            below = descendants(pid)
            if not below:
                break
            for other in below:
                try:
                    os.kill(other, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            time.sleep(0.001)
    signal_process(pid, pidfd)
