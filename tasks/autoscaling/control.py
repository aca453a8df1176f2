"""The control loop in the trusted parent: what the policy sees every interval, and how its answer
becomes replicas requested or drained.

Rules (one place):
- The desired count is compared with the replicas ready or starting (draining ones do not count).
- Scaling up requests new replicas at once; each serves after the cold start and is charged from now.
- Scaling down removes starting replicas first (newest first: they have served nothing), then ready
  replicas with the fewest requests waiting plus running (lowest id on ties), as Glia's
  production-style scaler removes the least busy. A removed replica takes no new requests, finishes
  its own and is charged until it leaves.
- An answer that is not an int within [min_replicas, max_replicas] ends the run as invalid, with the
  call and the simulated time named and the answer described in a few words (quote.py); it is never
  clamped.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from adrs_bench.quote import quote
from adrs_bench.sandbox.remote import CallAborted
from adrs_bench.serving import ClusterView, Profile, solo_latency

from .settings import Settings

TIMELINE_FIELDS = ("time", "desired", "ready", "starting", "draining", "arrivals", "finished", "queued")


PolicyAbort = CallAborted  # the one abort of a sandboxed call (adrs_bench/sandbox/remote.py)


def describe_call(call: int, now: float) -> str:
    return f"decide call {call} at t={now:.3f} s"


class SlowdownMeter:
    """A finished request's slowdown: its end-to-end time / its time alone on an idle replica of the same
    profile (the SLO's measure; solo times cached by prompt and decode length)."""

    def __init__(self, profile: Profile):
        self.profile = profile
        self.solo: dict[tuple[int, int], float] = {}

    def __call__(self, record) -> float:
        key = (record.prompt_tokens, record.decode_tokens)
        solo = self.solo.get(key)
        if solo is None:
            solo = self.solo[key] = solo_latency(self.profile, *key)
        return record.e2e / solo


@dataclass
class Controller:
    settings: Settings
    decide: Callable[[dict], Any]  # metrics (plain data) -> desired count; may raise PolicyAbort
    profile: Profile
    simulator: Any = None  # set before the run (the tick callback needs it to add and remove replicas)
    calls: int = 0
    last_arrived: int = 0
    last_completed: int = 0
    last_tokens: dict = field(default_factory=dict)
    timeline: list = field(default_factory=list)  # rows of TIMELINE_FIELDS

    def __post_init__(self) -> None:
        self.meter = SlowdownMeter(self.profile)

    def observe(self, now: float, view: ClusterView) -> dict:
        """What an operator's metrics pipeline shows, as plain data."""
        replicas, counts = [], {"starting": 0, "ready": 0, "draining": 0}
        for replica in view.replicas:
            counts[replica.state] = counts.get(replica.state, 0) + 1
            tokens = replica.tokens_generated
            decoded = tokens - self.last_tokens.get(replica.id, 0)
            self.last_tokens[replica.id] = tokens
            replicas.append([replica.id, replica.state, replica.num_waiting, replica.num_running,
                             replica.kv_usage, decoded])
        finished = [[r.ttft, r.e2e, self.meter(r)] for r in view.completed[self.last_completed:view.num_completed]]
        arrivals = view.num_arrived - self.last_arrived
        self.last_arrived, self.last_completed = view.num_arrived, view.num_completed
        return {"time": now, "interval": self.settings.interval_seconds, "ready": counts["ready"],
                "starting": counts["starting"], "draining": counts["draining"], "queued": len(view.queue),
                "arrivals": arrivals, "replicas": replicas, "finished": finished,
                "min_replicas": self.settings.min_replicas, "max_replicas": self.settings.max_replicas}

    def on_tick(self, now: float, view: ClusterView) -> None:
        self.calls += 1
        metrics = self.observe(now, view)
        desired = self.decide(metrics)
        settings = self.settings
        if isinstance(desired, bool) or not isinstance(desired, int) or not (
                settings.min_replicas <= desired <= settings.max_replicas):
            raise PolicyAbort("invalid", f"{describe_call(self.calls, now)}: decide returned {quote(desired)}; expected "
                                         f"an int from {settings.min_replicas} to {settings.max_replicas}")
        self.apply(now, view, desired)
        self.timeline.append((now, desired, metrics["ready"], metrics["starting"], metrics["draining"],
                              metrics["arrivals"], len(metrics["finished"]), metrics["queued"]))

    def apply(self, now: float, view: ClusterView, desired: int) -> None:
        simulator = self.simulator
        starting = [r for r in view.replicas if r.state == "starting"]
        ready = [r for r in view.replicas if r.state == "ready"]
        current = len(starting) + len(ready)
        if desired > current:
            for _ in range(desired - current):
                simulator.add_replica(now)
        elif desired < current:
            order = sorted(starting, key=lambda r: -r.id) + sorted(ready, key=lambda r: (r.num_requests, r.id))
            for replica in order[:current - desired]:
                simulator.remove_replica(now, replica.id)
