"""The static reference of an autoscaling trace: the smallest fixed replica count that keeps the SLO, and
its GPU-hours (the numerator of the score). A search of its own: minutes per set, run when a set is
generated (and frozen in its file) or when a fresh set is built; `python -m ...generate` prints them."""
from __future__ import annotations

from typing import Sequence

from adrs_bench.instances import case_built

from . import evaluator
from .instance import Reference, Trace
from .settings import settings


def reference_for(trace: Trace) -> Reference:
    """Search the smallest fixed replica count keeping the SLO; ValueError (naming the trace) if none
    within the bounds does."""
    try:
        count, run, checks = evaluator.smallest_static(settings(), trace.requests())
    except ValueError as exc:
        raise ValueError(f"trace {trace.id}: {exc}") from None
    below = checks[count - 1].percentile_slowdown if count > 1 else None
    return Reference(static_replicas=int(count), static_gpu_hours=float(run.gpu_hours),
                     static_p95_slowdown=float(run.slo.percentile_slowdown),
                     below_p95_slowdown=None if below is None else float(below))


def references_for(traces: Sequence[Trace], workers: int = 1) -> list[Reference]:
    """The traces' references, in order; each one found is reported to instances.case_built (the
    progress of a fresh set's load_set)."""
    references: list[Reference] = []
    if workers > 1 and len(traces) > 1:
        import multiprocessing
        with multiprocessing.get_context("fork").Pool(min(workers, len(traces))) as pool:
            for reference in pool.imap(reference_for, traces, chunksize=1):
                references.append(reference)
                case_built(len(references), len(traces))
        return references
    for trace in traces:
        references.append(reference_for(trace))
        case_built(len(references), len(traces))
    return references
