"""llm_routing's mirror (the router's copy of the cluster in the sandboxed child) against the simulator.

The simulator runs in process with a journal; a router callable replays the journal into a `Mirror`
exactly as the sandbox bridge does, compares what the mirror shows with the simulator's own views at
every call, and routes from the mirror (so the run depends on the mirror being right)."""
from __future__ import annotations

import ast
import inspect
import subprocess
import sys

import pytest

from adrs_bench.serving import ClusterConfig, ReplicaConfig, Simulator, journal, least_loaded
from adrs_bench.tasks.llm_routing import evaluator, mirror
from adrs_bench.tasks.llm_routing.bridge import request_specs
from adrs_bench.tasks.llm_routing.generate import set_traces

from serving.helpers import ONE_SECOND, specs

SMOKE = set_traces("smoke")[0]


def test_mirror_imports_only_the_journal_of_the_simulator():
    tree = ast.parse(inspect.getsource(mirror))
    modules = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            modules.add(node.module or "")
    # The sandbox's class registries and the journal's codes are all it may take from the package (no
    # simulator, no decode length).
    assert {m for m in modules if "adrs_bench" in m} == {"adrs_bench.sandbox.modules", "adrs_bench.serving.journal"}


def test_the_child_side_loads_the_journal_and_nothing_else_of_the_simulator():
    # What the fork server imports for this task's children (task.py: child_adapter), in a fresh interpreter.
    code = ("import sys; import adrs_bench.tasks.llm_routing.adapter; "
            "print(sorted(m for m in sys.modules if m.startswith('adrs_bench.serving')))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "['adrs_bench.serving', 'adrs_bench.serving.journal']"


def request_fields(request) -> tuple:
    """What both a simulator RequestView and a mirror Request show (never the decode length)."""
    return (request.id, request.arrival_time, request.prompt_tokens, request.prefill_tokens,
            request.processed_tokens, request.restarts, request.state, request.replica_id)


class MirroringRouter:
    """Replays the journal into a Mirror (as bridge.SandboxedRouter + adapter.schedule_once do), checks
    it against the snapshot, then routes with `policy(mirror)`."""

    def __init__(self, journal: list, replicas: list, policy):
        self.journal = journal
        self.mirror = mirror.Mirror(replicas)
        self.policy = policy
        self.calls = 0
        self.max_restarts = 0
        self.max_queue = 0
        self.max_waiting = 0
        self.running_seen = 0

    def __call__(self, snapshot):
        counters = []
        for view in snapshot.replicas:
            replica = view._replica
            replica.catch_up()
            counters.append([replica.id, replica.steps, replica.allocated, replica.config.num_blocks,
                             replica.config.block_size])
        m = self.mirror
        m.apply(snapshot.time, self.journal.copy(), counters)
        self.journal.clear()
        self.calls += 1
        self.check(snapshot)
        return self.policy(m)

    def check(self, snapshot):
        m = self.mirror
        where = f"call {snapshot.call_index} at t={snapshot.time}"
        assert m.time == snapshot.time
        queue = m.request_queue()
        assert [r.id for r in queue] == [r.id for r in snapshot.queue], where
        assert [request_fields(r) for r in queue] == [request_fields(r) for r in snapshot.queue], where
        schedulers = m.replica_schedulers()
        assert list(schedulers) == [v.id for v in snapshot.replicas], where
        in_system = len(snapshot.queue)
        for view in snapshot.replicas:
            mine = schedulers[view.id]
            assert [r.id for r in mine.waiting] == [r.id for r in view.waiting], where
            assert [r.id for r in mine.running] == [r.id for r in view.running], where
            assert [request_fields(r) for r in mine.waiting] == [request_fields(r) for r in view.waiting], where
            assert [request_fields(r) for r in mine.running] == [request_fields(r) for r in view.running], where
            assert (mine.num_waiting, mine.num_running, mine.num_requests) == \
                (view.num_waiting, view.num_running, view.num_requests), where
            assert (mine.allocated_blocks, mine.free_blocks, mine.total_blocks, mine.block_size) == \
                (view.allocated_blocks, view.free_blocks, view.total_blocks, view.block_size), where
            assert mine.kv_usage == view.kv_usage, where
            in_system += view.num_requests
            self.max_waiting = max(self.max_waiting, view.num_waiting)
            self.running_seen += view.num_running
            for r in view.running + view.waiting:
                self.max_restarts = max(self.max_restarts, r.restarts)
        # completed requests are dropped from the mirror
        assert len(m.requests) == in_system, where
        self.max_queue = max(self.max_queue, len(snapshot.queue))


def llq_from_mirror(m):
    """Least loaded, computed from the mirror (the same rule as serving.least_loaded)."""
    schedulers = m.replica_schedulers()
    loads = [[r.num_requests, i] for i, r in sorted(schedulers.items())]
    pairs = []
    for request in m.request_queue():
        best = min(loads)
        pairs.append((best[1], request.id))
        best[0] += 1
    return pairs


def holding_from_mirror(m):
    """Send the shortest queued prompt to the least-loaded replica only if that replica has an empty
    queue and fewer than 3 running requests; when every replica is idle, send everything (so the run
    never stalls). Requests pile up in the global queue during bursts."""
    schedulers = m.replica_schedulers()
    queue = sorted(m.request_queue(), key=lambda r: (r.prefill_tokens, r.id))
    if not queue:
        return []
    if all(r.num_requests == 0 for r in schedulers.values()):
        ids = sorted(schedulers)
        return [(ids[k % len(ids)], request.id) for k, request in enumerate(queue)]
    best = min(schedulers.values(), key=lambda r: (r.num_requests, r.id))
    if best.num_waiting == 0 and best.num_running < 3:
        return [(best.id, queue[0].id)]
    return []


def round_robin_from_mirror():
    state = {"next": 0}

    def route(m):
        ids = sorted(m.replica_schedulers())
        pairs = []
        for request in m.request_queue():
            pairs.append((ids[state["next"] % len(ids)], request.id))
            state["next"] += 1
        return pairs

    return route


def run_mirrored(config: ClusterConfig, requests, policy, profile=None):
    journal: list = []
    replicas = [[i, config.replica.num_blocks, config.replica.block_size] for i in range(config.num_replicas)]
    router = MirroringRouter(journal, replicas, policy)
    result = Simulator(config, requests, router, profile, journal=journal).run()
    assert router.calls == result.router_calls > 0
    return router, result


def with_fast(config: ClusterConfig, fast: bool) -> ClusterConfig:
    return ClusterConfig(num_replicas=config.num_replicas, replica=config.replica, fast=fast)


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "step"])
def test_mirror_matches_simulator_on_smoke_with_llq(fast):
    config = with_fast(evaluator.CLUSTER, fast)
    router, result = run_mirrored(config, request_specs(SMOKE), llq_from_mirror)
    assert len(result.records) == len(SMOKE)
    assert router.running_seen > 0 and router.max_waiting > 0
    # routing from the mirror is routing from the simulator: the reference, bit for bit
    reference = Simulator(config, request_specs(SMOKE), least_loaded).run()
    assert result.records == reference.records
    assert result.summary().mean_e2e == evaluator.llq_summary(SMOKE).mean_e2e


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "step"])
def test_mirror_matches_simulator_on_smoke_holding_requests(fast):
    config = with_fast(evaluator.CLUSTER, fast)
    router, result = run_mirrored(config, request_specs(SMOKE), holding_from_mirror)
    assert len(result.records) == len(SMOKE)
    assert router.max_queue > 5  # requests did wait in the global queue


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "step"])
def test_mirror_matches_simulator_on_smoke_under_memory_pressure(fast):
    # 600 blocks per replica: every smoke request fits alone (<= 515 blocks), many do not fit together
    config = ClusterConfig(num_replicas=2, replica=ReplicaConfig(num_blocks=600), fast=fast)
    router, result = run_mirrored(config, request_specs(SMOKE), round_robin_from_mirror())
    assert result.summary().preemptions > 0
    assert router.max_restarts > 0


# A hand-made trace on a fixed clock: blocks of 4 tokens, 12 blocks per replica, requests of 8..14-token
# prompts decoding 12..30 tokens, so running requests keep outgrowing the cache and restart.
PREEMPTION_ROWS = [(0.0, 8, 20), (0.0, 9, 24), (0.5, 10, 12), (1.0, 8, 30), (1.0, 14, 16), (2.0, 8, 22),
                   (2.5, 12, 18), (3.0, 9, 26), (3.0, 10, 14), (6.0, 8, 20), (6.0, 11, 25), (9.0, 8, 12),
                   (12.0, 13, 19), (12.0, 8, 28)]


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "step"])
@pytest.mark.parametrize("replicas", [1, 2])
def test_mirror_matches_simulator_with_preemptions(fast, replicas):
    config = ClusterConfig(num_replicas=replicas, fast=fast,
                           replica=ReplicaConfig(num_blocks=12, block_size=4, watermark_fraction=0.0))
    router, result = run_mirrored(config, specs(*PREEMPTION_ROWS), llq_from_mirror, ONE_SECOND)
    assert len(result.records) == len(PREEMPTION_ROWS)
    assert result.summary().preemptions > 0
    assert router.max_restarts > 0  # seen by the router (and checked against the simulator)
    assert router.max_waiting > 0


def test_preemption_trace_same_in_fast_and_step_mode():
    def run(fast):
        config = ClusterConfig(num_replicas=1, fast=fast,
                               replica=ReplicaConfig(num_blocks=12, block_size=4, watermark_fraction=0.0))
        return run_mirrored(config, specs(*PREEMPTION_ROWS), llq_from_mirror, ONE_SECOND)[1]

    assert run(True).records == run(False).records


def test_mirror_running_request_tokens_follow_replica_steps():
    """A request's processed tokens are its offset plus the replica's step count, as the counters say."""
    m = mirror.Mirror([[0, 100, 16]])
    m.apply(0.0, [(journal.JOURNAL_ARRIVAL, 7, 0.0, 50)], [[0, 0, 0, 100, 16]])
    (request,) = m.request_queue()
    assert (request.state, request.processed_tokens, request.replica_id) == ("queued", 0, None)
    m.apply(0.1, [(journal.JOURNAL_ENQUEUE, 0, 7), (journal.JOURNAL_ADMIT, 0, 1)], [[0, 0, 4, 100, 16]])
    assert m.request_queue() == [] and request.state == "prefill" and request.processed_tokens == 0
    assert m.replicas[0].running == [request]
    m.apply(0.5, [(journal.JOURNAL_PREFILL_END, 0, [(7, 51 - 3)])], [[0, 3, 4, 100, 16]])
    assert (request.state, request.processed_tokens) == ("running", 51)
    m.apply(0.9, [], [[0, 10, 5, 100, 16]])
    assert request.processed_tokens == 58 and m.replicas[0].allocated_blocks == 5
    m.apply(1.0, [(journal.JOURNAL_PREEMPT, 0, 7, 58)], [[0, 10, 0, 100, 16]])
    assert (request.state, request.prefill_tokens, request.restarts, request.processed_tokens) == \
        ("waiting", 58, 1, 0)
    assert m.replicas[0].waiting == [request] and m.replicas[0].running == []
    with pytest.raises(ValueError, match="unknown journal entry"):
        m.apply(1.1, [(99, 0)], [[0, 10, 0, 100, 16]])
