"""Running untrusted submissions: the only place their code is compiled and executed.

Two layers, and the outer one must hold alone (docs/sandbox.md says exactly what holds where):

* the restricted compiler (`policy`, `checks`, `guards`, `modules`): RestrictedPython's rules (no underscore names,
  no `open`, no `exec`/`eval`), allowlisted imports, modules seen through attribute allowlists. It
  stops the accidents of machine-written code early and with a precise message. It has been escaped
  before and will be again, so nothing below trusts it;
* the process boundary (`forkserver`, `isolation`, `syscalls`, `child`, `session`, `reaper`; `wire`
  frames the messages, `replies` names the outcomes, `remote` is the stateful tasks' call helper): every
  child is forked from a clean fork server (it never held an instance set), runs as PID 1 of new
  PID/network/mount/IPC/UTS namespaces with an empty read-only root, as `nobody` (or in a user
  namespace) with no capabilities and no new privileges, under rlimits and a seccomp filter, and
  holds only its two pipes. The parent re-validates everything it reads, kills the child's whole
  namespace on a breach, and alone writes records.

What it is NOT: a defence against kernel exploits (a seccomp deny-list, not an allowlist, stands
between the child and the kernel), nor a bound on the CPU a child may burn within its limits.
"""
