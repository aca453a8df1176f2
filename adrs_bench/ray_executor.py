"""The Ray executor: each job (a share of one run, or one candidate) is a Ray task, one CPU each.

Imported only when asked for (`--executor ray`, `executor="ray"`); the rest of adrs-bench never
imports ray. On the worker, a job is `executors.run_job`: the worker process starts its own fork server
and runs the job's cases in its own sandboxed children, under the same isolation and limits as a local
run, and sends back the outcomes with its harness version and evaluator sha256, which the parent checks
before it merges anything.

Ending: when the parent stops waiting (Ctrl-C, an exception, a caller closing the iteration), every job
not finished is cancelled with `ray.cancel(force=True)`, which kills its worker process; the worker's
sandbox supervisors see their children's request pipes hang up and kill the children, and its fork
server sees its socket close and exits, on whichever node it ran.
"""
from __future__ import annotations

import logging
import time
from typing import Sequence

from .errors import MissingExtra

try:
    import ray
except ImportError:  # pragma: no cover - tested by hiding ray
    raise MissingExtra('expected the ray package for the Ray executor, got none installed; '
                       'pip install "adrs-bench[ray]"') from None

from .executors import JobFailure, Part, contiguous, failure_of, run_job_shipped

WAIT_SLICE_SECONDS = 0.25  # how often the parent's wait returns, so that Ctrl-C lands promptly
_REMOTE = None


def remote_job():
    """`run_job_shipped` as a Ray task (its CPUs set per job by `cpus_for`), never retried (a job that
    ran once is not run again behind the caller's back; a dead worker is reported as the job's failure)."""
    global _REMOTE
    if _REMOTE is None:
        _REMOTE = ray.remote(num_cpus=1, max_retries=0)(run_job_shipped)
    return _REMOTE


class RayExecutor:
    """Jobs as Ray tasks on the cluster at `address` ("HEAD:6379", "auto"), or on a local one started
    now when there is none (or on the one this process is already connected to, whatever `address`).
    `parts`: how many shares one run is spread over (default: one per CPU of the cluster; one per case
    for tasks whose cases drive the child many times, such as llm_routing and autoscaling).
    `cpus_per_job`: the CPUs each job reserves (default: `cpus_for`)."""

    name = "ray"
    job_workers = 1

    def __init__(self, address: str | None = None, parts: int | None = None, cpus_per_job: float | None = None,
                 **init_options):
        started = time.monotonic()
        if not ray.is_initialized():  # address None: RAY_ADDRESS, else the latest cluster here, else a new one
            options = {"include_dashboard": False, "logging_level": logging.WARNING, **init_options}
            ray.init(address=address, **options)
        self.startup_seconds = time.monotonic() - started
        self.parts = parts
        self.cpus_per_job = cpus_per_job
        self.largest_node: float | None = None

    def cpus_for(self, task) -> float:
        """The CPUs a job reserves. A case that drives the child call by call (llm_routing, autoscaling)
        keeps two processes busy, the worker's simulator and the sandboxed child, and each polls for the
        other's answer before it sleeps (wire.wait_briefly): two CPUs, or jobs sharing a CPU slow each
        other down (docs/benchmarks.md, Executors). Other tasks: one. Never more than the largest node has."""
        if self.cpus_per_job is not None:
            return self.cpus_per_job
        wanted = 2.0 if task.stateful else 1.0
        if self.largest_node is None:
            self.largest_node = max((node["Resources"].get("CPU", 0.0) for node in ray.nodes() if node["Alive"]),
                                    default=1.0)
        return max(1.0, min(wanted, self.largest_node))

    def slots(self) -> int:
        """The cluster's CPUs (a job of one CPU each at once)."""
        return max(1, int(ray.cluster_resources().get("CPU", 1)))

    def shares(self, task, count: int) -> list[range]:
        if count == 0:
            return []
        if task.stateful and self.parts is None:  # long, stateful cases: one task each
            return [range(index, index + 1) for index in range(count)]
        return contiguous(count, self.parts or self.slots())

    def submit(self, job, cases) -> "ray.ObjectRef":
        """Start one job (its cases: a list, or the ref of one already put) and return its ref."""
        return remote_job().options(num_cpus=self.cpus_for(job.task)).remote(job.shipped(), cases)

    def map(self, work: Sequence, on_outcome=None, *, cancellation=None, on_tick=None):
        """Each job as a Ray task; a share comes back whole, so `cancellation` and `on_tick` (local
        executor features) are not used: closing the iterator early cancels every task instead."""
        puts: dict[int, object] = {}  # one copy of each distinct case list in the object store
        index_of = {}
        for index, (job, cases) in enumerate(work):
            if id(cases) not in puts:
                puts[id(cases)] = ray.put(list(cases))
            index_of[self.submit(job, puts[id(cases)])] = index
        pending = list(index_of)
        try:
            while pending:
                ready, pending = ray.wait(pending, num_returns=1, timeout=WAIT_SLICE_SECONDS)
                for ref in ready:
                    try:
                        part = ray.get(ref)
                    except ray.exceptions.RayError as exc:  # the worker died, or was cancelled
                        part = failure_of(exc)
                    if not isinstance(part, (Part, JobFailure)):
                        part = JobFailure(type(part).__name__, "expected a Part from the worker", False)
                    if on_outcome is not None and isinstance(part, Part):
                        for outcome in part.outcomes:
                            on_outcome(index_of[ref], outcome)
                    yield index_of[ref], part
        finally:
            for ref in pending:  # closed early: end every job still queued or running, on every node
                try:
                    ray.cancel(ref, force=True)
                except Exception:
                    pass

    def close(self, shutdown: bool = False) -> None:
        """Nothing by default: the connection (and a local cluster this process started) stays up for
        the next evaluation and ends with the process. `shutdown=True` ends it now."""
        if shutdown and ray.is_initialized():
            ray.shutdown()
