"""Least KV-cache use: every queued request, in arrival order, goes to the replica whose KV cache will be
least used once its own queue is admitted: blocks allocated now plus the blocks its waiting requests'
prefills need, counting the requests sent in this call (lowest id on ties)."""

import math


class Router:
    def schedule(self):
        loads = []
        for replica_id, replica in sorted(self.replica_schedulers.items()):
            queued = sum(math.ceil(r.num_prefill_tokens / replica.block_size) for r in replica.waiting)
            loads.append([replica.num_allocated_blocks + queued, replica_id, replica.block_size])
        pairs = []
        for request in self.request_queue:
            best = min(loads)
            pairs.append((best[1], request))
            best[0] += math.ceil(request.num_prefill_tokens / best[2])
        return pairs
