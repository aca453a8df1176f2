"""LLQ: least-loaded routing. Every queued request, in arrival order, goes to the replica with the fewest
requests waiting plus running (lowest id on ties), counting the ones sent in this call. The score's
reference: this router scores exactly 1.0 on every seed."""


class Router:
    def schedule(self):
        if not self.request_queue or not self.replica_schedulers:
            return []
        loads = [[replica.num_requests, replica_id] for replica_id, replica in sorted(self.replica_schedulers.items())]
        pairs = []
        for request in self.request_queue:
            best = min(loads)
            pairs.append((best[1], request))
            best[0] += 1
        return pairs
