"""Head-room admission with shortest-prompt-first, a variant that also reserves for running requests.

Written from the description of Glia's router before its published code (Fig. 9) was followed; the
`hra_spf` baseline is the published algorithm. This variant differs in what a replica is charged: the
global queue is served shortest prompt first. Each request is charged a reservation of its prompt
x (1 + 0.6) tokens, for the decode it will grow by; a replica's projected use is what its running
requests hold or have reserved, whichever is larger, plus the reservations of its waiting requests and of
the requests sent to it in this call. A request goes to the replica with the lowest projected use only if
at least 3% of that replica's blocks stay free; otherwise it (and every longer one) is held in the global
queue until a completion frees room. An idle replica always has room for any single request here, so
held requests never stall the cluster.
"""

import math

GROWTH = 0.6
HEADROOM = 0.03


def reserved_blocks(tokens, block_size):
    return math.ceil(tokens * (1 + GROWTH) / block_size)


class Router:
    def schedule(self):
        if not self.request_queue:
            return []
        projected = []
        for replica_id, replica in sorted(self.replica_schedulers.items()):
            size = replica.block_size
            used = 0
            for request in replica.running:
                held = math.ceil(request.num_processed_tokens / size)
                used += max(held, reserved_blocks(request.num_prefill_tokens, size))
            for request in replica.waiting:
                used += reserved_blocks(request.num_prefill_tokens, size)
            projected.append([used, replica_id, replica.num_blocks, size])
        pairs = []
        for request in sorted(self.request_queue, key=lambda r: (r.num_prefill_tokens, r.arrived_at, r.id)):
            best = min(projected)
            need = reserved_blocks(request.num_prefill_tokens, best[3])
            if best[0] + need > (1 - HEADROOM) * best[2]:
                break
            pairs.append((best[1], request))
            best[0] += need
        return pairs
