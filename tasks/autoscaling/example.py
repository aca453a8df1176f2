"""A starter autoscaler: keep the requests in flight per replica near a target, scaling up at once and
down only after the demand has stayed low for a minute (replicas take 60 s to start). Edit and rerun:

    adrs-bench run autoscaling example.py --set smoke
"""

import math

TARGET_IN_FLIGHT = 20  # requests waiting + running per replica
SCALE_DOWN_DELAY = 60.0  # seconds of lower demand before removing replicas


class Autoscaler:
    def __init__(self):
        self.low_since = None

    def decide(self, metrics):
        current = metrics.ready + metrics.starting
        in_flight = metrics.queued + sum(r.waiting + r.running for r in metrics.replicas if r.state != "draining")
        wanted = max(metrics.min_replicas, min(metrics.max_replicas, math.ceil(in_flight / TARGET_IN_FLIGHT)))
        if wanted >= current:
            self.low_since = None
            return wanted
        if self.low_since is None:
            self.low_since = metrics.time
        if metrics.time - self.low_since >= SCALE_DOWN_DELAY:
            return wanted
        return current
