"""The fast replica (closed-form decode runs) against the step-by-step reference replica, its oracle:
identical per-request and per-replica records, bit for bit, on random preemption-heavy traces."""
import math
import random

import pytest

from adrs_bench.serving import (A10Llama3Profile, ClusterConfig, ReplicaConfig, RequestSpec, Simulator,
                                TableProfile, least_loaded)


def random_trace(seed: int, count: int, qps: float) -> list[RequestSpec]:
    rng = random.Random(seed)
    time, rows = 0.0, []
    for _ in range(count):
        time += rng.lognormvariate(math.log(1 / qps) - 2, 2)
        prompt = int(math.exp(rng.uniform(math.log(20), math.log(1500))))
        decode = int(math.exp(rng.uniform(0, math.log(600))))
        rows.append(RequestSpec(time, prompt, decode))
    return rows


class ListOnlyProfile:
    """A profile without `decode_time_of`: the simulator must build context lists (and still agree)."""

    def prefill_time(self, prompt_lengths):
        return 0.03 + 1e-4 * sum(prompt_lengths) + 1e-9 * max(prompt_lengths) ** 2

    def decode_time(self, context_lengths):
        return 0.02 + 1e-3 * len(context_lengths) + 3e-7 * max(context_lengths)


PROFILES = {
    "a10": A10Llama3Profile(),
    "list-only": ListOnlyProfile(),
    "table": TableProfile(lambda phase, tokens: 0.05 + (0.001 * tokens if phase == "decode" else 1e-4 * tokens)),
}


def simulate(trace, fast, profile, num_blocks, router=least_loaded, replicas=3, watermark_fraction=0.01):
    replica = ReplicaConfig(num_blocks=num_blocks, watermark_fraction=watermark_fraction)
    config = ClusterConfig(num_replicas=replicas, replica=replica, fast=fast)
    return Simulator(config, trace, router, profile).run()


@pytest.mark.parametrize("profile", sorted(PROFILES))
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fast_and_step_modes_give_bit_identical_results(seed, profile):
    trace = random_trace(seed, 400, qps=6.0)
    step = simulate(trace, False, PROFILES[profile], num_blocks=250)
    fast = simulate(trace, True, PROFILES[profile], num_blocks=250)
    assert sum(r.preemptions for r in step.records) > 0  # the traces exercise preemption
    assert fast.records == step.records
    assert fast.replicas == step.replicas  # KV block-seconds, busy time, tokens: same sums in the same order
    assert fast.summary() == step.summary()
    assert fast.events < step.events


@pytest.mark.parametrize("seed", [5, 6])
def test_bit_identical_without_a_watermark_where_a_preempted_request_is_readmitted_at_once(seed):
    # With no watermark, a request preempted by one that needs no block can fit the blocks it freed: the
    # fast mode must stop its decode run after one step whenever the head of the queue fits.
    trace = random_trace(seed, 300, qps=6.0)
    step = simulate(trace, False, PROFILES["a10"], num_blocks=120, watermark_fraction=0.0)
    fast = simulate(trace, True, PROFILES["a10"], num_blocks=120, watermark_fraction=0.0)
    assert sum(r.preemptions for r in step.records) > 50
    assert fast.records == step.records and fast.replicas == step.replicas


def test_bit_identical_with_a_router_that_holds_and_reads_running_requests():
    def headroom(snapshot):
        """Dispatch shortest prompt first to the replica with most free blocks, if 10% stay free."""
        free = {r.id: r.free_blocks - sum(v.processed_tokens for v in r.running) // 1000 for r in snapshot.replicas}
        pairs = []
        for request in sorted(snapshot.queue, key=lambda r: (r.prompt_tokens, r.id)):
            best = max(free, key=lambda i: (free[i], -i))
            need = -(-request.prompt_tokens // 16)
            if free[best] - need < 40:
                break
            free[best] -= need
            pairs.append((best, request.id))
        return pairs

    trace = random_trace(7, 400, qps=8.0)
    step = simulate(trace, False, PROFILES["a10"], num_blocks=400, router=headroom)
    fast = simulate(trace, True, PROFILES["a10"], num_blocks=400, router=headroom)
    assert fast.records == step.records and fast.replicas == step.replicas
    assert max(r.global_queueing for r in step.records) > 0


def test_same_inputs_give_identical_results():
    trace = random_trace(4, 300, qps=6.0)
    first = simulate(trace, True, PROFILES["a10"], num_blocks=400)
    second = simulate(trace, True, PROFILES["a10"], num_blocks=400)
    assert first == second
    assert first.summary().as_dict() == second.summary().as_dict()


def test_a_simulator_runs_once():
    sim = Simulator(ClusterConfig(), random_trace(1, 3, 1.0), least_loaded)
    sim.run()
    with pytest.raises(RuntimeError, match="runs once"):
        sim.run()


def test_bit_identical_when_events_tie_in_time():
    # Every step takes 0.25 s and arrivals fall on the same grid: batch ends of different replicas and
    # arrivals coincide all the time. Whatever the order of tied step ends, every router call sees all
    # batches that end at its time ended and the next ones started, in both modes.
    rng = random.Random(11)
    trace, time = [], 0.0
    for _ in range(300):
        time += rng.choice([0.0, 0.25, 0.5, 1.0, 2.0])
        trace.append(RequestSpec(time, rng.randint(1, 200), rng.randint(1, 300)))
    def at_most_three(snapshot):
        """Hold requests unless a replica has fewer than 3: dispatches happen on completions too."""
        loads = {r.id: r.num_requests for r in snapshot.replicas}
        pairs = []
        for request in snapshot.queue:
            best = min(loads, key=lambda i: (loads[i], i))
            if loads[best] >= 3:
                break
            loads[best] += 1
            pairs.append((best, request.id))
        return pairs

    profile = TableProfile(0.25)
    for router in (least_loaded, at_most_three):
        step = simulate(trace, False, profile, num_blocks=120, router=router)
        fast = simulate(trace, True, profile, num_blocks=120, router=router)
        assert sum(r.preemptions for r in step.records) > 0 or router is at_most_three
        assert max(r.global_queueing for r in step.records) > 0 or router is least_loaded
        assert fast.records == step.records and fast.replicas == step.replicas
