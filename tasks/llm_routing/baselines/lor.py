"""LOR: least outstanding requests. Every queued request, in arrival order, goes to the replica with the
fewest requests waiting in its queue (lowest id on ties), counting the ones sent in this call. Unlike
LLQ it ignores the running batch."""


class Router:
    def schedule(self):
        loads = [[replica.num_pending_requests, replica_id]
                 for replica_id, replica in sorted(self.replica_schedulers.items())]
        pairs = []
        for request in self.request_queue:
            best = min(loads)
            pairs.append((best[1], request))
            best[0] += 1
        return pairs
