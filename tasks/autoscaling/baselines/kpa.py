"""Knative's KPA on concurrency (requests in flight): a 60 s stable window and a 6 s panic window (the
latest sample: the policy is called every 15 s); panic when the panic-window demand reaches 200% of the
ready capacity; no scale-down while panicking (panic lasts until a stable window passes without the
condition); scale-down at most by a factor of 2 per decision. The per-replica target is tuned once on dev."""

import math

TARGET_CONCURRENCY = 32.0  # requests waiting + running per replica; tuned on dev (24 and 28 also keep the SLO, 32 is cheaper; 36 breaks it)
STABLE_WINDOW = 60.0
PANIC_THRESHOLD = 2.0
MAX_SCALE_DOWN_RATE = 2.0


class Autoscaler:
    def __init__(self):
        self.samples = []  # (time, concurrency)
        self.panic_until = -1.0

    def decide(self, metrics):
        current = metrics.ready + metrics.starting
        concurrency = sum(r.waiting + r.running for r in metrics.replicas if r.state != "draining") + metrics.queued
        self.samples.append((metrics.time, concurrency))
        self.samples = [(t, c) for t, c in self.samples if metrics.time - t < STABLE_WINDOW]
        stable = sum(c for _, c in self.samples) / len(self.samples)
        desired_stable = math.ceil(stable / TARGET_CONCURRENCY)
        desired_panic = math.ceil(concurrency / TARGET_CONCURRENCY)
        if metrics.ready and desired_panic / metrics.ready >= PANIC_THRESHOLD:
            self.panic_until = metrics.time + STABLE_WINDOW
        if metrics.time < self.panic_until:
            desired = max(desired_panic, desired_stable, current)
        else:
            desired = desired_stable
        desired = max(desired, math.ceil(current / MAX_SCALE_DOWN_RATE))
        return min(max(desired, metrics.min_replicas), metrics.max_replicas)
