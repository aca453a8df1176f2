"""llm_routing end to end through the real sandbox: baselines, determinism, bad routers (each must end
its seed with the right status and a one-line message naming the call and the simulated time, never
crash the harness), artifacts and the CLI."""
from __future__ import annotations

import csv
import dataclasses
import re
import textwrap
from pathlib import Path
from typing import Callable

import pytest
from click.testing import CliRunner

from adrs_bench.cli import main
from adrs_bench.errors import InvalidSubmission
from adrs_bench.instances import load_set
from adrs_bench.registry import Task, get_task
from adrs_bench.api import evaluate
from adrs_bench.runner import run_cases
from adrs_bench.sandbox.checks import check_submission
from adrs_bench.sandbox.session import SandboxSession
from adrs_bench.serving import ClusterConfig, ReplicaConfig, Simulator, least_loaded
from adrs_bench.tasks.llm_routing import evaluator, generate
from adrs_bench.tasks.llm_routing.bridge import REPLICA_STATE_FIELDS, request_specs, simulate_sandboxed

TASK = get_task("llm_routing")
LLQ_PATH = TASK.spec.path(TASK.spec.baselines["llq"])
SMOKE = load_set(TASK, "smoke").cases
TIMING_KEYS = {"router_seconds", "wait_seconds", "wall_seconds"}  # wall-clock, not simulated

# LLQ written against the router interface, for bad routers that misbehave only now and then.
LLQ_METHOD = """
    def llq(self):
        loads = [[r.num_requests, i] for i, r in sorted(self.replica_schedulers.items())]
        pairs = []
        for request in self.request_queue:
            best = min(loads)
            pairs.append((best[1], request))
            best[0] += 1
        return pairs
"""


def with_limits(**changes) -> Task:
    limits = dataclasses.replace(TASK.spec.limits, **changes)
    return Task(spec=dataclasses.replace(TASK.spec, limits=limits), plugin=TASK.plugin)


def llq_calls(trace) -> list[tuple[int, float, int]]:
    """(call index, time, global queue length) of every router call LLQ gets on `trace`, in process."""
    calls = []

    def router(snapshot):
        calls.append((snapshot.call_index, snapshot.time, len(snapshot.queue)))
        return least_loaded(snapshot)

    Simulator(evaluator.CLUSTER, request_specs(trace), router).run()
    return calls


def at(call: int, time: float) -> str:
    return f"router call {call} at t={time:.6f} s: "


@pytest.fixture(scope="module")
def smoke_llq_calls():
    return llq_calls(SMOKE[0])


@pytest.fixture(scope="module")
def smoke_run():
    """`evaluate(TASK, baseline, "smoke")` of a shipped baseline, once per module: the tests that only
    read a baseline's run share it (test_same_submission_twice_gives_identical_metrics still runs it again)."""
    runs: dict = {}

    def get(name: str):
        if name not in runs:
            result = evaluate(TASK, TASK.spec.path(TASK.spec.baselines[name]), "smoke")
            runs[name] = (result.record, result.outcomes, result.cases)
        return runs[name]

    return get


@pytest.fixture
def outcome_of(tmp_path):
    """Check `source` (dedented), run it on `cases` (default smoke) with `task`, return the one outcome
    (or the list for several cases)."""
    counter = [0]

    def run_source(source: str, task: Task = TASK, cases=SMOKE):
        counter[0] += 1
        path = tmp_path / f"router_{counter[0]}.py"
        if source.endswith(LLQ_METHOD):  # a class body written at test indentation, then the helper method
            source = textwrap.dedent(source[:-len(LLQ_METHOD)]).rstrip() + "\n" + LLQ_METHOD
        path.write_text(textwrap.dedent(source))
        outcomes = run_cases(task, check_submission(path, task.spec), cases)
        assert [o.id for o in outcomes] == [f"seed-{c.seed}" for c in cases]
        for case, o in zip(cases, outcomes):
            assert "\n" not in o.message
            assert o.metrics["llq_mean_e2e"] == evaluator.llq_summary(case).mean_e2e
            if not o.ok:
                assert o.score == 0.0
        return outcomes[0] if len(cases) == 1 else outcomes

    return run_source


# ------------------------------------------------------------------------------ baselines end to end

def test_llq_baseline_scores_exactly_one_and_matches_the_reference(smoke_run):
    record, outcomes, cases = smoke_run("llq")
    (outcome,) = outcomes
    trace = cases[0]
    assert len(trace) == 517
    assert outcome.status == "ok" and outcome.message == ""
    assert outcome.score == 1.0
    assert record["aggregate"]["score"] == 1.0 and record["aggregate"]["ok"] == 1
    assert outcome.metrics["mean_e2e"] == outcome.metrics["llq_mean_e2e"] == evaluator.llq_summary(trace).mean_e2e
    # bit for bit: every request's record equals the trusted in-process least_loaded run
    reference = Simulator(evaluator.CLUSTER, request_specs(trace), least_loaded).run()
    assert outcome.detail["records"] == reference.records
    assert outcome.metrics["router_calls"] == outcome.metrics["router_calls_made"] == reference.router_calls


@pytest.mark.parametrize("name", ["llq", "hra_spf"])
def test_same_submission_twice_gives_identical_metrics(name, smoke_run):
    path = TASK.spec.path(TASK.spec.baselines[name])
    first = smoke_run(name)[1][0]  # the run the other baseline tests check
    second = evaluate(TASK, path, "smoke").outcomes[0]
    assert first.status == second.status == "ok"
    keep = lambda metrics: {k: v for k, v in metrics.items() if k not in TIMING_KEYS}  # noqa: E731
    assert keep(first.metrics) == keep(second.metrics)
    assert set(first.metrics) - set(keep(first.metrics)) == TIMING_KEYS
    assert first.score == second.score
    assert first.detail["records"] == second.detail["records"]
    assert first.detail["replica_states"] == second.detail["replica_states"]


def baseline_names() -> list[str]:
    return sorted(TASK.spec.baselines)


def test_every_baseline_file_is_listed_in_the_spec():
    directory = LLQ_PATH.parent
    files = sorted(p.name for p in directory.glob("*.py"))
    assert files == sorted(Path(p).name for p in TASK.spec.baselines.values())
    assert len(files) >= 5


@pytest.mark.parametrize("name", baseline_names())
def test_every_baseline_runs_ok_on_smoke(name, smoke_run):
    record, outcomes, _ = smoke_run(name)
    (outcome,) = outcomes
    assert (outcome.status, outcome.message) == ("ok", "")
    assert outcome.score > 0
    assert len(outcome.detail["records"]) == 517
    assert record["aggregate"]["failed"] == 0


def test_other_baselines_route_differently(smoke_run):
    scores = {name: smoke_run(name)[1][0].score for name in ("round_robin", "lor", "hra_spf")}
    assert all(0 < score != 1.0 for score in scores.values()), scores


# A router that holds requests until three wait (or every replica idles), then sends them shortest
# prefill first by a load that reads processed tokens, prefill tokens and restarts: once as a sandboxed
# submission, once in process on the simulator's own views. Same answers at every call => same records.
HOLDING_SOURCE = """
import math


class Router:
    def schedule(self):
        queue = self.request_queue
        replicas = self.replica_schedulers
        if not queue:
            return []
        if len(queue) < 3 and any(r.num_requests for r in replicas.values()):
            return []
        loads = []
        for replica_id, replica in sorted(replicas.items()):
            size = replica.block_size
            load = sum(math.ceil(r.num_processed_tokens / size) + r.num_restarts for r in replica.running)
            load += sum(math.ceil(r.num_prefill_tokens / size) for r in replica.waiting)
            loads.append([load + replica.num_allocated_blocks, replica_id])
        pairs = []
        for request in sorted(queue, key=lambda r: (r.num_prefill_tokens, r.arrived_at, r.id)):
            best = min(loads)
            pairs.append((best[1], request))
            best[0] += math.ceil(request.num_prefill_tokens / 16)
        return pairs
"""


def holding_in_process(snapshot):
    import math

    queue = snapshot.queue
    if not queue:
        return []
    if len(queue) < 3 and any(r.num_requests for r in snapshot.replicas):
        return []
    loads = []
    for replica in sorted(snapshot.replicas, key=lambda r: r.id):
        size = replica.block_size
        load = sum(math.ceil(r.processed_tokens / size) + r.restarts for r in replica.running)
        load += sum(math.ceil(r.prefill_tokens / size) for r in replica.waiting)
        loads.append([load + replica.allocated_blocks, replica.id])
    pairs = []
    for request in sorted(queue, key=lambda r: (r.prefill_tokens, r.arrival_time, r.id)):
        best = min(loads)
        pairs.append((best[1], request.id))
        best[0] += math.ceil(request.prefill_tokens / 16)
    return pairs


def test_holding_router_through_the_sandbox_equals_in_process(tmp_path):
    path = tmp_path / "holding.py"
    path.write_text(HOLDING_SOURCE)
    result = evaluate(TASK, path, "smoke")
    (outcome,), cases = result.outcomes, result.cases
    assert outcome.status == "ok", outcome.message
    assert outcome.metrics["mean_global_queueing"] > 0  # it did hold requests
    reference = Simulator(evaluator.CLUSTER, request_specs(cases[0]), holding_in_process).run()
    assert outcome.detail["records"] == reference.records
    assert outcome.metrics["router_calls"] == reference.router_calls
    assert outcome.score == evaluator.llq_summary(cases[0]).mean_e2e / reference.summary().mean_e2e


def test_sandboxed_router_under_memory_pressure_equals_in_process(tmp_path):
    """Through the real child, on a cluster small enough that requests are preempted and restart: the
    mirror's restarts, prefill and processed tokens reach the router exactly as the simulator has them."""
    config = ClusterConfig(num_replicas=2, replica=ReplicaConfig(num_blocks=600))
    trace = SMOKE[0]
    path = tmp_path / "holding.py"
    path.write_text(HOLDING_SOURCE)
    submission = check_submission(path, TASK.spec)
    limits = TASK.spec.limits
    with SandboxSession(submission.code, str(path), TASK.plugin.child_adapter, TASK.spec.allowed_imports,
                        limits) as session:
        seed_run = simulate_sandboxed(session, trace, config, 0, limits.call_seconds, limits.instance_seconds)
    assert (seed_run.status, seed_run.message) == ("ok", "")
    reference = Simulator(config, request_specs(trace), holding_in_process).run()
    assert reference.summary().preemptions > 0 and reference.summary().restarted_requests > 0
    assert seed_run.result.records == reference.records
    assert seed_run.stats.calls == reference.router_calls
    assert len(seed_run.stats.replica_states) == len(REPLICA_STATE_FIELDS) * 2 * reference.router_calls


# ------------------------------------------------------------------------------ bad routers

# Which of LLQ's router calls on smoke (smoke_llq_calls: call index, time, queue length) a bad router fails at.

def first_call(calls):
    return calls[0]


def second_call(calls):
    return calls[1]


def third_call(calls):
    call = calls[2]
    assert call[0] == 3
    return call


def first_call_with_an_empty_queue(calls):
    return next(c for c in calls if c[2] == 0)


def batched_call(calls):
    """The first call after call 2 whose queue is empty: calls with an empty queue are sent together with
    the next one, so this one is part of a batch."""
    return next(c for c in calls if c[0] > 2 and c[2] == 0)


ANY = "…"  # in an expected message: any text


@dataclasses.dataclass(frozen=True)
class BadRouter:
    """A router that misbehaves, run on smoke, and how its seed must end.

    `message` is the whole one-line message: `{at}` is `at(call, time)` of the LLQ call `call` picks,
    `{last_arrival}` and `{requests}` the smoke trace's last arrival time (6 decimals) and its length, and
    ANY stands for any text; without ANY it is the exact message."""
    id: str
    source: str  # dedented; a source ending in LLQ_METHOD gets the method at class level
    status: str
    message: str
    call: Callable | None = None  # picks the failing call from smoke_llq_calls; None: the message names none
    limits: dict | None = None  # TASK's limits changed for this router
    calls_made: Callable | None = None  # (router_calls_made, call index, trace) -> whether it is right
    max_seconds: float | None = None  # killed, not waited for


def message_pattern(template: str, values: dict) -> str:
    return ".*".join(re.escape(part.format(**values)) for part in template.split(ANY))


NON_LISTS = [("'nope'", "str"), ("None", "NoneType"), ("tuple((0, r) for r in self.request_queue)", "tuple"),
             ("{0: self.request_queue}", "dict")]

BAD_ROUTERS = [
    BadRouter("schedule-raises", """
        class Router:
            def schedule(self):
                raise ValueError("boom")
    """, "error", "{at}raised ValueError: boom (line 4)", first_call),
    # the failure names the call of the batch that raised
    BadRouter("schedule-raises-in-a-batched-call", """
        class Router:
            def __init__(self):
                self.n = 0

            def schedule(self):
                self.n += 1
                if self.n > 2 and not self.request_queue:
                    raise KeyError("empty")
                return self.llq()
    """ + LLQ_METHOD, "error", "{at}raised KeyError: " + ANY, batched_call,
              calls_made=lambda made, call, trace: made == call - 1),
    *[BadRouter(f"schedule-returns-{type_name}", f"""
        class Router:
            def schedule(self):
                return {value}
    """, "invalid", "{at}schedule returned " + type_name + "; expected a list of (replica_id, request) pairs",
                first_call) for value, type_name in NON_LISTS],
    BadRouter("unknown-replica-id", """
        class Router:
            def schedule(self):
                return [(99, r) for r in self.request_queue]
    """, "invalid", "{at}item 0: unknown replica id 99; replicas accepting requests are [0, 1, 2, 3]", first_call),
    BadRouter("request-not-in-the-queue", """
        class Router:
            def schedule(self):
                return [(0, 10 ** 6)]
    """, "invalid", "{at}item 0: request 1000000 is not in the global queue", first_call),
    # request 0 goes at call 1; sending it again at call 2 is sending a request not in the queue
    BadRouter("request-already-dispatched", """
        class Router:
            def schedule(self):
                return [(0, 0)]
    """, "invalid", "{at}item 0: request 0 is not in the global queue", second_call),
    BadRouter("same-request-twice", """
        class Router:
            def schedule(self):
                return [(0, r) for r in self.request_queue] + [(1, r) for r in self.request_queue]
    """, "invalid", "{at}item 1: request 0 is dispatched twice", first_call),
    BadRouter("pairs-returned-while-the-queue-is-empty", """
        class Router:
            def __init__(self):
                self.last = None

            def schedule(self):
                if not self.request_queue:
                    return [] if self.last is None else [(0, self.last)]
                self.last = self.request_queue[-1].id
                return self.llq()
    """ + LLQ_METHOD, "invalid", "{at}returned 1 pair(s) while the global queue was empty; expected []",
              first_call_with_an_empty_queue),
    BadRouter("answer-item-that-is-not-a-request", """
        class Router:
            def schedule(self):
                return [(0, object()) for r in self.request_queue]
    """, "invalid", "{at}item 0: request id <object " + ANY + "is not an int", first_call),
    # one call per arrival, each answered []
    BadRouter("holding-every-request-stalls", """
        class Router:
            def schedule(self):
                return []
    """, "stalled", "stalled at t={last_arrival} s: {requests} request(s) held in the global queue" + ANY,
              calls_made=lambda made, call, trace: made == len(trace)),
    # the decode length is not visible
    *[BadRouter(f"reads-{name}", f"""
        class Router:
            def schedule(self):
                return [(0, r) for r in self.request_queue if r.{name} > 0]
    """, "error", "{at}raised AttributeError: 'Request' object has no attribute '" + name + "' (line 4)", first_call)
      for name in ("num_decode_tokens", "decode_tokens")],
    # A router may use underscore names of its own; the view objects' underscore state (the mirror's
    # Request has `_id`, a replica `_waiting`) is not its own, so reading or writing it fails the call.
    BadRouter("underscore-request-id", """
        class Router:
            def schedule(self):
                return [(0, r._id) for r in self.request_queue]
    """, "error", "{at}" + ANY + "of a Request object" + ANY + "own objects only" + ANY, first_call),
    BadRouter("underscore-replica-waiting", """
        class Router:
            def schedule(self):
                self.replica_schedulers[0]._waiting.clear()
                return []
    """, "error", "{at}" + ANY + "of a Replica object" + ANY + "own objects only" + ANY, first_call),
    BadRouter("underscore-through-getattr", """
        class Router:
            def schedule(self):
                return [(0, getattr(r, "_id")) for r in self.request_queue]
    """, "error", "{at}" + ANY + "of a Request object" + ANY + "own objects only" + ANY, first_call),
    BadRouter("init-raises", """
        class Router:
            def __init__(self):
                raise RuntimeError("no init")

            def schedule(self):
                return []
    """, "error", "creating Router(): RuntimeError: no init (line 4)",
              calls_made=lambda made, call, trace: made == 0),
    BadRouter("router-without-schedule", """
        class Router:
            pass
    """, "error", "creating Router(): " + ANY + "schedule(self)" + ANY),
    BadRouter("too-slow-per-call", """
        import time

        class Router:
            def __init__(self):
                self.n = 0

            def schedule(self):
                self.n += 1
                if self.n == 3:
                    time.sleep(2.0)
                return self.llq()
    """ + LLQ_METHOD, "timeout", "{at}no answer within the per-call limit of 0.2 s" + ANY, third_call,
              limits={"call_seconds": 0.2}, max_seconds=1.5),
    # A call sent together with others still has its own wall-clock limit: the batch waits at most one
    # per-call limit past the start of each call it holds (not the limit times the batch size).
    BadRouter("too-slow-in-a-batched-call", """
        import time

        class Router:
            def __init__(self):
                self.n = 0

            def schedule(self):
                self.n += 1
                if self.n > 2 and not self.request_queue:
                    self.n = -10 ** 9
                    time.sleep(0.6)
                return self.llq()
    """ + LLQ_METHOD, "timeout", "{at}no answer within the per-call limit of 0.5 s" + ANY + "wall-clock" + ANY,
              batched_call, limits={"call_seconds": 0.5}, max_seconds=1.5),
    BadRouter("too-slow-in-total", """
        import time

        class Router:
            def schedule(self):
                time.sleep(0.01)
                return self.llq()
    """ + LLQ_METHOD, "timeout", "router call " + ANY + " at t=" + ANY + "the per-seed limit of 0.5 s" + ANY,
              limits={"instance_seconds": 0.5}, calls_made=lambda made, call, trace: 0 < made < 100,
              max_seconds=2.0),
    BadRouter("init-too-slow", """
        import time

        class Router:
            def __init__(self):
                time.sleep(2.0)

            def schedule(self):
                return []
    """, "timeout", "creating Router(): no answer within" + ANY, limits={"call_seconds": 0.2}),
    BadRouter("memory-error", """
        class Router:
            def schedule(self):
                raise MemoryError()
    """, "memory", "{at}" + ANY, first_call),
]


@pytest.mark.parametrize("bad", BAD_ROUTERS, ids=[bad.id for bad in BAD_ROUTERS])
def test_a_bad_router_ends_its_seed_with_its_status_and_one_line(bad, outcome_of, smoke_llq_calls):
    """Each bad router ends its seed with the right status and a one-line message naming the call and
    the simulated time (outcome_of checks the one line and the zero score); the harness never crashes."""
    assert ("{at}" in bad.message) == (bad.call is not None)  # a call is picked exactly when the message names it
    trace = SMOKE[0]
    values = {"last_arrival": f"{trace.arrival_times[-1]:.6f}", "requests": len(trace)}
    call = None
    if bad.call is not None:
        call, time, _ = bad.call(smoke_llq_calls)
        values["at"] = at(call, time)
    o = outcome_of(bad.source, task=with_limits(**bad.limits) if bad.limits else TASK)
    assert o.status == bad.status, o.message
    assert re.fullmatch(message_pattern(bad.message, values), o.message), o.message
    if bad.calls_made is not None:
        assert bad.calls_made(o.metrics["router_calls_made"], call, trace), o.metrics["router_calls_made"]
    if bad.max_seconds is not None:
        assert o.seconds < bad.max_seconds  # killed, not waited for


def test_mutating_what_the_router_sees_changes_nothing(outcome_of):
    """Requests and replicas are read-only views: assigning to them fails, and a router that rebinds
    its own attributes (request_queue) still gets a fresh view at the next call."""
    o = outcome_of("""
        class Router:
            def schedule(self):
                for request in self.request_queue:
                    request.num_prefill_tokens = 1
                return self.llq()
    """ + LLQ_METHOD)
    assert o.status == "error" and "raised AttributeError" in o.message
    o = outcome_of("""
        class Router:
            def schedule(self):
                pairs = self.llq()
                self.request_queue.clear()
                self.replica_schedulers.clear()
                return pairs
    """ + LLQ_METHOD)
    assert (o.status, o.score) == ("ok", 1.0)


def test_file_without_a_router_class_is_rejected(tmp_path):
    path = tmp_path / "router.py"
    path.write_text("def schedule(self):\n    return []\n")
    with pytest.raises(InvalidSubmission, match="expected a top-level class Router"):
        check_submission(path, TASK.spec)


def test_router_that_is_a_function_is_rejected(tmp_path):
    path = tmp_path / "router.py"
    path.write_text("def Router():\n    return []\n")
    with pytest.raises(InvalidSubmission, match="expected Router to be a class"):
        check_submission(path, TASK.spec)


def test_disallowed_import_is_rejected(tmp_path):
    path = tmp_path / "router.py"
    path.write_text("import os\nclass Router:\n    def schedule(self):\n        return os.listdir('/')\n")
    with pytest.raises(InvalidSubmission, match="import of 'os' is not allowed and the code uses 'os'"):
        check_submission(path, TASK.spec)


# ------------------------------------------------------------------------------ several seeds

@pytest.fixture(scope="module")
def two_traces():
    data = generate.to_csv_gz([generate.generate_trace(0, 20.0), generate.generate_trace(1, 20.0)])
    cases = TASK.plugin.parse_cases(data)
    assert [c.seed for c in cases] == [0, 1] and all(len(c) > 10 for c in cases)
    return cases


def fails_on_first_trace_source(cases) -> str:
    marker = cases[0].arrival_times[0]
    assert marker not in cases[1].arrival_times
    return f"""
        class Router:
            def schedule(self):
                if any(r.arrived_at == {marker!r} for r in self.request_queue):
                    raise RuntimeError("seed 0 only")
                return self.llq()
    """ + LLQ_METHOD


def test_a_failed_seed_does_not_stop_the_others(outcome_of, two_traces):
    first, second = outcome_of(fails_on_first_trace_source(two_traces), cases=two_traces)
    calls = llq_calls(two_traces[0])
    assert first.status == "error"
    assert first.message == at(calls[0][0], calls[0][1]) + "raised RuntimeError: seed 0 only (line 5)"
    assert first.score == 0.0 and first.metrics["llq_mean_e2e"] == evaluator.llq_summary(two_traces[0]).mean_e2e
    assert (second.status, second.score) == ("ok", 1.0)
    assert second.metrics["mean_e2e"] == evaluator.llq_summary(two_traces[1]).mean_e2e


def test_a_fresh_router_object_per_seed(outcome_of, two_traces):
    """State kept on the Router instance starts over with each seed: a router that fails once it has
    seen more distinct requests than one trace holds would fail on the second seed if the object
    were shared."""
    most = max(len(c) for c in two_traces)
    first, second = outcome_of(f"""
        class Router:
            def __init__(self):
                self.seen = set()

            def schedule(self):
                self.seen.update((r.arrived_at, r.id) for r in self.request_queue)
                if len(self.seen) > {most}:
                    raise RuntimeError("state leaked between seeds")
                return self.llq()
    """ + LLQ_METHOD, cases=two_traces)
    assert (first.status, second.status) == ("ok", "ok")


# ------------------------------------------------------------------------------ artifacts

def read_csv(path: Path) -> list[list[str]]:
    with path.open(newline="") as f:
        return list(csv.reader(f))


def test_artifacts(tmp_path, smoke_run):
    _, outcomes, cases = smoke_run("hra_spf")
    (outcome,) = outcomes
    trace = cases[0]
    written = TASK.plugin.write_artifacts(cases, outcomes, tmp_path / "art")
    assert [p.name for p in written] == ["seeds.csv", "request_metrics.csv", "routes.csv", "replica_states.csv",
                                         "latency_cdf.png", "kv_use.png"]

    seeds = read_csv(tmp_path / "art" / "seeds.csv")
    assert seeds[0][:4] == ["seed", "status", "message", "speedup"] and len(seeds) == 2
    row = dict(zip(seeds[0], seeds[1]))
    assert (row["seed"], row["status"], row["message"]) == ("0", "ok", "")
    assert float(row["speedup"]) == outcome.score
    assert int(row["router_calls_made"]) == outcome.metrics["router_calls_made"]

    requests = read_csv(tmp_path / "art" / "request_metrics.csv")
    assert requests[0] == ["seed", "request_id", "arrived_at", "prompt_tokens", "decode_tokens", "replica_id",
                           "routed_at", "scheduled_at", "first_token_at", "completed_at", "e2e_time", "ttft",
                           "tpot", "global_queueing", "replica_queueing", "restarts", "preemptions"]
    assert len(requests) == 1 + len(trace)
    assert [int(r[1]) for r in requests[1:]] == list(range(len(trace)))
    assert [int(r[3]) for r in requests[1:]] == list(trace.prompt_tokens)
    assert [int(r[4]) for r in requests[1:]] == list(trace.decode_tokens)
    e2e = [float(r[10]) for r in requests[1:]]
    assert sum(e2e) / len(e2e) == pytest.approx(outcome.metrics["mean_e2e"], rel=1e-12)

    routes = read_csv(tmp_path / "art" / "routes.csv")
    assert routes[0] == ["seed", "request_id", "routed_at", "replica_id"] and len(routes) == 1 + len(trace)
    routed = [float(r[2]) for r in routes[1:]]
    assert routed == sorted(routed)
    assert sorted(int(r[1]) for r in routes[1:]) == list(range(len(trace)))
    assert {int(r[3]) for r in routes[1:]} <= {0, 1, 2, 3}

    states = read_csv(tmp_path / "art" / "replica_states.csv")
    assert states[0] == ["seed", *REPLICA_STATE_FIELDS]
    calls = outcome.metrics["router_calls"]
    assert calls == outcome.metrics["router_calls_made"] > len(trace)
    assert len(states) == 1 + 4 * calls
    assert [int(r[1]) for r in states[1:]] == [c for c in range(1, calls + 1) for _ in range(4)]
    assert [int(r[3]) for r in states[1:]] == [0, 1, 2, 3] * calls
    assert all(0 <= int(r[6]) <= 2240 for r in states[1:])


def test_artifacts_of_a_failed_seed(outcome_of, two_traces, tmp_path):
    outcomes = outcome_of(fails_on_first_trace_source(two_traces), cases=two_traces)
    TASK.plugin.write_artifacts(two_traces, outcomes, tmp_path)
    seeds = read_csv(tmp_path / "seeds.csv")
    assert [(r[0], r[1]) for r in seeds[1:]] == [("0", "error"), ("1", "ok")]
    assert seeds[1][2] == outcomes[0].message
    requests = read_csv(tmp_path / "request_metrics.csv")
    assert len(requests) == 1 + len(two_traces[1]) and {r[0] for r in requests[1:]} == {"1"}
    states = read_csv(tmp_path / "replica_states.csv")
    assert len(states) == 1 + 4 * outcomes[1].metrics["router_calls"]


# ------------------------------------------------------------------------------ CLI

def test_cli_runs_llq_on_smoke(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["run", "llm_routing", str(LLQ_PATH), "--set", "smoke", "--no-save",
                                       "--quiet", "--artifacts", str(tmp_path / "art")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    score_line = next(line for line in result.output.splitlines() if line.startswith("score"))
    assert score_line.split()[-1] == "1.0000"
    assert TASK.spec.id in result.output
    assert not (tmp_path / "results").exists()  # --no-save
    assert (tmp_path / "art" / "replica_states.csv").is_file()


def test_cli_strict_fails_on_a_bad_router(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "bad.py"
    path.write_text("class Router:\n    def schedule(self):\n        return 'nope'\n")
    result = CliRunner().invoke(main, ["run", "llm_routing", str(path), "--set", "smoke", "--no-save", "--quiet",
                                       "--strict"], catch_exceptions=False)
    assert result.exit_code == 1
    assert "invalid" in result.output and "schedule returned str" in result.output
