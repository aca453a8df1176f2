"""Starter router, in vidur's form: least-loaded routing (LLQ), the score's reference (1.0 on every seed).

Routers written for vidur run here unchanged: the two imports below resolve to the task's own classes,
and any class deriving from BaseGlobalScheduler is the router (a plain `class Router` works too). Before
each call the harness refreshes:
- self._request_queue: the global queue in arrival order, a new list each call (sort, pop, rebind it
  freely; requests you do not return stay queued);
- self._replica_schedulers: {replica_id: replica} with num_pending_requests, num_active_requests,
  num_allocated_blocks, _config.block_size, _config.num_blocks, _request_queue (its waiting requests);
- self._num_replicas, self.current_time (seconds).
A request has id, arrived_at, num_prefill_tokens, num_processed_tokens and num_restarts, never its decode
length. Return (replica_id, request) pairs. tasks/llm_routing/README.md has the whole table.

Where to start improving: LLQ ignores memory, so bursts overfill a replica's KV cache and requests are
preempted and recomputed. Holding requests in the global queue until a replica has room (the hra_spf
baseline) and serving short prompts first cut mean latency by a third.
"""
from typing import List, Tuple

from vidur.entities import Request
from vidur.scheduler.global_scheduler.base_global_scheduler import BaseGlobalScheduler


class LeastLoadedGlobalScheduler(BaseGlobalScheduler):
    def schedule(self) -> List[Tuple[int, Request]]:
        loads = [[replica.num_pending_requests + replica.num_active_requests, replica_id]
                 for replica_id, replica in sorted(self._replica_schedulers.items())]
        mapping = []
        while self._request_queue and loads:
            request = self._request_queue.pop(0)
            best = min(loads)  # fewest waiting + running, lowest id on ties
            mapping.append((best[1], request))
            best[0] += 1
        return mapping
