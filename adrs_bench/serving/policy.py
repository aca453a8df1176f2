"""vLLM's replica scheduling policy as vidur models it: the rules, written once for both replicas.

Why its own module: the fast replica and the step-by-step reference must apply the very same rules, and
a reader should find each rule in one place (DESIGN.md §5; vidur's `VLLMReplicaScheduler`, with the
differences noted):
- A step is a prefill batch if any waiting request can be admitted, else a decode batch over every
  running request; the two are never mixed (replica.py forms the batch).
- Admission is first come first served from the waiting queue and stops at the first request that does
  not fit: it needs `free - ceil(prefill/16) >= watermark` (1% of blocks), `(admitted + 1) × longest
  prefill <= 8192` tokens and `running + admitted <= 128`. A lone request longer than 8192 tokens is
  admitted alone (vLLM would reject it and vidur would wait forever; restarts can make such prompts).
  Admitted requests take `ceil(prefill/16)` blocks.
- A decode step schedules the running requests oldest arrival first. A request whose cached tokens
  (`prompt + generated - 1`; the newest token is the step's input) fill whole blocks takes one more
  block. As in vidur, a request may take its step only while at least one block is free, whether or
  not it needs one: while none is free, the youngest request not yet scheduled in this step is
  preempted, repeatedly, and if the request being scheduled is itself the youngest left, it is the one
  preempted. A preempted request's blocks are freed, its prefill becomes everything processed so far
  and it goes to the front of the waiting queue (the last preempted first): replica.py applies that.
- Requests that have generated all their tokens free their blocks at the end of the step.

The functions take the replica's queues and counts, not the replica, so both replicas call them alike.
"""
from __future__ import annotations

from collections import deque
from typing import Callable, Sequence

from adrs_bench.serving.config import ReplicaConfig
from adrs_bench.serving.request import Request


def admit(waiting: deque[Request], free: int, running: int, config: ReplicaConfig) -> tuple[list[Request], int]:
    """Pop the prefill batch off the front of `waiting` (FCFS, stopping at the first request that does
    not fit) with `free` blocks free and `running` requests decoding; each admitted request's `blocks`
    is set. Returns the batch (possibly empty) and the blocks left free."""
    block_size, watermark = config.block_size, config.watermark_blocks
    room = config.max_batch_requests - running
    batch: list[Request] = []
    longest = 0
    while waiting and len(batch) < room:
        request = waiting[0]
        need = -(-request.prefill_tokens // block_size)
        if free - need < watermark:
            break
        new_longest = max(longest, request.prefill_tokens)
        if batch and (len(batch) + 1) * new_longest > config.max_batch_tokens:
            break
        waiting.popleft()
        free -= need
        request.blocks = need
        longest = new_longest
        batch.append(request)
    return batch, free


def admits_head(head: Request, free: int, running: int, config: ReplicaConfig) -> bool:
    """Whether `admit` would admit `head` (the front of the waiting queue) with `free` blocks free."""
    need = -(-head.prefill_tokens // config.block_size)
    return running < config.max_batch_requests and free - need >= config.watermark_blocks


def forms_without_preemption(needing: int, free: int, youngest_needs: bool) -> bool:
    """Whether a decode step forms without preemption: scheduling the running requests oldest first,
    each taking its new block if it needs one, none is reached while the cache is full. True when fewer
    blocks are needed than are free, or exactly as many and the youngest request takes the last one."""
    return needing < free or (needing == free and youngest_needs)


def schedule_decode_step(running: list[Request], needs: Sequence[bool], free: int,
                         preempt: Callable[[Request], int]) -> int:
    """Form a decode step that may preempt (see the rule above). `running` is in schedule order (oldest
    arrival first) and `needs[i]` says whether `running[i]` takes a new block in this step. Victims are
    popped off the end of `running` and handed to `preempt`, which frees their blocks and returns how
    many; afterwards `running` holds exactly the requests of the step (a prefix of what it held, so
    `needs` still lines up with it). Returns the blocks left free once the step's new blocks are taken."""
    i, count = 0, len(running)
    while i < count:
        if free == 0:
            request = running[i]
            while free == 0:
                victim = running.pop()
                free += preempt(victim)
                if victim is request:
                    return free
            count = len(running)
        if needs[i]:
            free -= 1
        i += 1
    return free
