"""Round robin: queued requests, in arrival order, go to the replicas in turn (by id)."""


class Router:
    def __init__(self):
        self.next_index = 0

    def schedule(self):
        replica_ids = sorted(self.replica_schedulers)
        pairs = []
        for request in self.request_queue:
            pairs.append((replica_ids[self.next_index % len(replica_ids)], request))
            self.next_index += 1
        return pairs
