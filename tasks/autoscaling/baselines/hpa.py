"""Kubernetes HPA on in-flight requests per replica: desired = ceil(current * metric / target), no change
while metric/target is within the 0.1 tolerance, and scale-down stabilisation: the count never drops below
the highest recommendation of the last 300 s. The target is tuned once on dev so that it keeps the SLO."""

import math

TARGET_IN_FLIGHT = 28.0  # requests waiting + running per ready replica; tuned on dev (16 to 40 all keep the SLO; 28 uses the fewest GPU-hours)
TOLERANCE = 0.1
STABILISATION_SECONDS = 300.0


class Autoscaler:
    def __init__(self):
        self.recommendations = []  # (time, recommendation)

    def decide(self, metrics):
        current = metrics.ready + metrics.starting
        ready = [r for r in metrics.replicas if r.state == "ready"]
        recommendation = current
        if ready:
            in_flight = (sum(r.waiting + r.running for r in ready) + metrics.queued) / len(ready)
            ratio = in_flight / TARGET_IN_FLIGHT
            if abs(ratio - 1.0) > TOLERANCE:
                recommendation = math.ceil(current * ratio)
        recommendation = min(max(recommendation, metrics.min_replicas), metrics.max_replicas)
        self.recommendations.append((metrics.time, recommendation))
        self.recommendations = [(t, r) for t, r in self.recommendations
                                if metrics.time - t < STABILISATION_SECONDS]
        if recommendation < current:  # scale down only as far as the window's highest recommendation
            recommendation = min(current, max(r for _, r in self.recommendations))
        return recommendation
