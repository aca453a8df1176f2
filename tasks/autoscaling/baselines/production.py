"""Glia's production-style baseline: per-replica decode throughput above a high threshold adds one
replica, below a low threshold removes one (the harness drains the least busy), with a cooldown after
every change. Thresholds tuned once on dev so that it keeps the SLO."""

HIGH_TOKENS_PER_SECOND = 400.0  # tuned on dev (700 and 500 break the SLO on dev)
LOW_TOKENS_PER_SECOND = 200.0  # tuned on dev
COOLDOWN_SECONDS = 60.0


class Autoscaler:
    def __init__(self):
        self.last_change = -1e18

    def decide(self, metrics):
        current = metrics.ready + metrics.starting
        ready = [r for r in metrics.replicas if r.state == "ready"]
        if not ready or metrics.time - self.last_change < COOLDOWN_SECONDS:
            return min(max(current, metrics.min_replicas), metrics.max_replicas)
        throughput = sum(r.tokens_decoded for r in ready) / metrics.interval / len(ready)
        desired = current
        if throughput > HIGH_TOKENS_PER_SECOND:
            desired = current + 1
        elif throughput < LOW_TOKENS_PER_SECOND:
            desired = current - 1
        desired = min(max(desired, metrics.min_replicas), metrics.max_replicas)
        if desired != current:
            self.last_change = metrics.time
        return desired
