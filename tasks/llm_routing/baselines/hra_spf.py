"""Head-room admission with shortest-prompt-first: Glia's router as its Fig. 9 publishes it.

- A replica's projected use is its allocated blocks plus ceil(sum of 1.6 x prompt / 16) over its waiting
  requests (the prompt as the replica will prefill it: after a restart, everything processed so far).
- The global queue is served by (prompt tokens, arrival). The head request needs ceil(1.6 x prompt / 16)
  blocks and is admissible on a replica if blocks - (projected + need) >= int(0.03 x blocks).
- It goes to the admissible replica with the lowest projected use (ties: fewest waiting + running, then
  lowest id), whose projection grows by its need. The first request no replica admits stops the call:
  it and everything after it wait in the global queue for a later call (every arrival and completion).
"""

import math

GROWTH = 1.6  # Glia: a request's KV use is charged as 1.6 x its prompt (its decode will grow it)
HEADROOM = 0.03  # Glia: keep 3% of a replica's blocks free


class Router:
    def schedule(self):
        projected = {}
        for replica_id, replica in self.replica_schedulers.items():
            waiting = sum(GROWTH * r.num_prefill_tokens for r in replica.waiting)
            projected[replica_id] = replica.num_allocated_blocks + math.ceil(waiting / replica.block_size)
        pairs = []
        for request in sorted(self.request_queue, key=lambda r: (r.num_prefill_tokens, r.arrived_at)):
            best = None
            for replica_id, replica in sorted(self.replica_schedulers.items()):
                need = math.ceil(GROWTH * request.num_prefill_tokens / replica.block_size)
                room = replica.num_blocks - (projected[replica_id] + need)
                if room < int(HEADROOM * replica.num_blocks):
                    continue
                key = (projected[replica_id], replica.num_pending_requests + replica.num_running)
                if best is None or key < best[0]:
                    best = (key, replica_id, need)
            if best is None:
                break
            pairs.append((best[1], request))
            projected[best[1]] += best[2]
        return pairs
