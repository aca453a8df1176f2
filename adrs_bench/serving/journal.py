"""The journal: the list of queue changes a simulation writes for a mirror to replay.

Why: a router that runs elsewhere (llm_routing's sandboxed child) keeps a copy of the queues; sending it
every queued and running request at every call would cost more than the simulation. The simulator
appends one entry per change, in the order the changes happen; the mirror (tasks/llm_routing/mirror.py)
replays them. A running request's processed tokens are its offset plus its replica's decode steps, so
decode steps themselves need no entry: the caller sends each replica's step count with the journal.

This module is the one list of entry codes for both sides, and imports nothing: the child that holds the
mirror loads it without loading the simulator. Entries are plain tuples (the first item is the code):
"""
from __future__ import annotations

JOURNAL_ARRIVAL = 0  # (0, request_id, arrival_time, prompt_tokens): joins the global queue
JOURNAL_ENQUEUE = 1  # (1, replica_id, request_id): routed, at the back of the replica's waiting queue
JOURNAL_ADMIT = 2  # (2, replica_id, n): the first n waiting requests start a prefill batch
JOURNAL_PREFILL_END = 3  # (3, replica_id, [(request_id, offset, or None if it completed), ...]): the batch ends
JOURNAL_DECODE_END = 4  # (4, replica_id, [request_id, ...]): these running requests complete
JOURNAL_PREEMPT = 5  # (5, replica_id, request_id, prefill_tokens): back to the front of waiting

JOURNAL_CODES = (JOURNAL_ARRIVAL, JOURNAL_ENQUEUE, JOURNAL_ADMIT, JOURNAL_PREFILL_END, JOURNAL_DECODE_END,
                 JOURNAL_PREEMPT)
