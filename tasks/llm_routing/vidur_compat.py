"""vidur's global-scheduler base class as the sandbox offers it, so routers written for vidur (Glia's,
FunSearch's, OpenEvolve's) run unchanged: `from vidur.scheduler.global_scheduler.base_global_scheduler
import BaseGlobalScheduler` resolves here (spec.json `compat_modules`), and any class deriving from it is
the router.

The names are vidur's (vidur/scheduler/global_scheduler/base_global_scheduler.py): `_request_queue`,
`_replica_schedulers`, `_num_replicas`, `_replicas`, `_config`, `sort_requests`, `add_request`,
`get_replica_scheduler`, `is_empty`, `schedule`. The harness refreshes the first three before every
call (adapter.py); `_config` is None, since vidur's SimulationConfig is not modelled here. The class holds
nothing of the harness, so a router deriving from it keeps underscore state of its own
(modules.open_base).
"""
from __future__ import annotations

from adrs_bench.sandbox.modules import open_base


@open_base
class BaseGlobalScheduler:
    """The parent of vidur-style routers. vidur builds it with (config, replicas); so does the harness."""

    def __init__(self, config=None, replicas=None, *args, **kwargs):
        self._config = config
        self._replicas = dict(replicas or {})
        self._num_replicas = len(self._replicas)
        self._replica_schedulers = dict(self._replicas)
        self._request_queue = []

    def sort_requests(self) -> None:
        """The queue in arrival order (vidur sorts by arrival time)."""
        self._request_queue.sort(key=lambda request: (request.arrived_at, request.id))

    def add_request(self, request) -> None:
        self._request_queue.append(request)

    def get_replica_scheduler(self, replica_id: int):
        return self._replica_schedulers[replica_id]

    def is_empty(self) -> bool:
        return not self._request_queue and all(
            replica.num_requests == 0 for replica in self._replica_schedulers.values())

    def schedule(self):
        raise NotImplementedError("a router deriving from BaseGlobalScheduler defines schedule(self)")
