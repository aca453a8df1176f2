"""Starter router, in vidur's form: least-loaded routing (LLQ), the score's reference (1.0 on every seed).

Try it:  adrs-bench run llm_routing tasks/llm_routing/example.py

The score is the mean over seeds of LLQ's mean end-to-end latency / yours, so this file scores exactly
1.0 and every improvement shows as a score above 1 (hra_spf, Glia's router, scores about 1.5 on dev).
That runs the dev set (5 simulated traces of 1000 s, under a minute); add `--set smoke` (one 60 s trace)
for a check in seconds.

Routers written for vidur run here unchanged: the two imports below resolve to the task's own classes,
and any class deriving from BaseGlobalScheduler is the router (a plain `class Router` works too). The
harness calls schedule() on every arrival and every completion, and refreshes before each call:
    self._request_queue       the global queue in arrival order, a new list each call: sort, pop or
                              rebind it freely; requests you do not return stay queued for a later call
    self._replica_schedulers  {replica_id: replica}, the replicas accepting requests
    self._num_replicas        how many there are (4)
    self.current_time         simulated seconds since the trace began
A replica has:
    num_pending_requests      requests routed to it and not yet admitted (waiting)
    num_active_requests       requests it is running (holding KV blocks)
    num_allocated_blocks      KV blocks in use
    _config.num_blocks        its KV cache, in blocks (2240)
    _config.block_size        tokens per block (16)
    _request_queue            its waiting requests (restarted ones first)
A request has:
    id                        unique id
    arrived_at                arrival time, seconds
    num_prefill_tokens        prompt length (after a preemption: everything processed so far)
    num_processed_tokens      KV tokens it holds; 0 until its prefill ends
    num_restarts              times it was preempted and restarted
    and never its decode length: no router sees how long a request will run.
Return a list of (replica_id, request) pairs. tasks/llm_routing/README.md has the whole table (the plain
form's names too).

Where to improve: LLQ counts requests and ignores memory, so a burst of long prompts overfills one
replica's KV cache; its youngest requests are preempted and must recompute everything they had processed
(about 15% of requests restart on dev). Ideas, roughly in order of payoff:
- hold requests in the global queue until some replica has room for them (its free blocks minus what its
  waiting requests will take; charge a request about 1.6 x its prompt for the decode to come);
- serve the global queue shortest prompt first, which lowers the mean;
- weigh replicas by KV blocks in use rather than request counts (the least_kv baseline: about 1.06 alone).
The hra_spf baseline (tasks/llm_routing/baselines/hra_spf.py) does the first two and cuts mean latency
by a third; a router that holds requests must still let them go once replicas drain (one that holds
requests while every replica idles ends `stalled`).
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
