"""Running untrusted submissions: the only place their code is compiled and executed.

What this guard is: a *reliability* guard for programs written by an LLM in an evolution loop. It
stops the accidents such programs make (infinite loops, memory bombs, stray prints, reaching for
files, crashing the interpreter) from hurting the harness or corrupting a score:

* `policy` compiles the file with RestrictedPython (no names starting with "_", no `open`,
  no `exec`/`eval`), dropping any `if __name__ == "__main__":` block unseen;
* `checks` rejects forbidden imports and a missing or mis-shaped entry point before anything runs;
* `guards` gives the code an allowlisted set of builtins and modules, numpy only through an
  attribute allowlist;
* `process` runs it in a forked child with resource limits (address space, CPU seconds, no file
  writes), a hard wall-clock kill of the child and every process it made, and a pipe that only
  the harness reads; the parent re-validates every byte it gets back.

What it is NOT: a security boundary. Do not run hostile code with it on a machine you care about;
use a VM or container for that. RestrictedPython has had escapes, and a submission that escaped it
would still only be able to forge its own *outputs*, which the parent validates and scores against
its own pristine copy of each instance.
"""
