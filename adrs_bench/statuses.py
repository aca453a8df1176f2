"""How a case can end, one place. Every task's cases end in one of the core's statuses; a task may
declare a few of its own in its spec.json (`statuses`: llm_routing's `stalled`, autoscaling's
`slo_violated`), and a record is checked against the core's plus its task's."""
from __future__ import annotations

OK = "ok"  # the answer was valid and scored
INVALID = "invalid"  # an answer the evaluator refused
TIMEOUT = "timeout"  # a wall-clock limit ran out (or the case was never run: "not run: ...")
MEMORY = "memory"  # the child went over its address-space limit
CRASHED = "crashed"  # the child died (a signal, a seccomp kill, an exit)
ERROR = "error"  # the submission raised

CORE_STATUSES = (OK, INVALID, TIMEOUT, MEMORY, CRASHED, ERROR)
