"""The cluster's and each replica's configuration, frozen, with Glia's setup as the defaults.

Why one module: these numbers (2240 blocks of 16 tokens, a 1% watermark, 8192 tokens and 128 requests
per batch; DESIGN.md §5) are rules both tasks and their generators rely on; they are written here only,
and everything else (the scheduler, a generator's "fits one replica" check, error messages) derives from
a `ReplicaConfig`.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ReplicaConfig:
    """One replica's memory and batch limits (Glia's A10 + Llama-3-8B setup, DESIGN.md §5)."""

    num_blocks: int = 2240
    block_size: int = 16
    watermark_fraction: float = 0.01
    max_batch_tokens: int = 8192
    max_batch_requests: int = 128

    def __post_init__(self) -> None:
        for name in ("num_blocks", "block_size", "max_batch_tokens", "max_batch_requests"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"ReplicaConfig.{name} must be an int >= 1, got {value!r}")
        if not 0 <= self.watermark_fraction < 1:
            raise ValueError(f"ReplicaConfig.watermark_fraction must be in [0, 1), got {self.watermark_fraction!r}")

    @functools.cached_property  # read at every admission
    def watermark_blocks(self) -> int:
        """Blocks admission must leave free (vLLM's watermark: decode steps may use them)."""
        return int(self.watermark_fraction * self.num_blocks)

    @property
    def max_request_blocks(self) -> int:
        """The most blocks one request can be admitted with: an empty replica minus the watermark."""
        return self.num_blocks - self.watermark_blocks

    def blocks_for(self, tokens: int) -> int:
        """Blocks that hold `tokens` tokens of KV cache."""
        return -(-tokens // self.block_size)

    def fits_alone(self, prompt_tokens: int, decode_tokens: int) -> bool:
        """Whether a request can run to completion alone on an empty replica, even after restarts (a
        restart's prefill is at most prompt + decode - 1 tokens). Generators keep to requests that do."""
        return self.blocks_for(prompt_tokens + decode_tokens) <= self.max_request_blocks


@dataclass(frozen=True)
class ClusterConfig:
    """The cluster: `num_replicas` ready at time 0, replicas added later serve after `cold_start` s,
    the control callback (if any) runs every `tick_interval` s starting at `tick_interval`. `fast`
    picks the replica that plans decode runs in closed form; False runs the step-by-step reference."""

    num_replicas: int = 4
    replica: ReplicaConfig = field(default_factory=ReplicaConfig)
    cold_start: float = 60.0
    tick_interval: float = 15.0
    stall_ticks: int = 40
    fast: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.num_replicas, bool) or not isinstance(self.num_replicas, int) or self.num_replicas < 0:
            raise ValueError(f"ClusterConfig.num_replicas must be an int >= 0, got {self.num_replicas!r}")
        if not (math.isfinite(self.cold_start) and self.cold_start >= 0):
            raise ValueError(f"ClusterConfig.cold_start must be a finite number >= 0, got {self.cold_start!r}")
        if not (math.isfinite(self.tick_interval) and self.tick_interval > 0):
            raise ValueError(f"ClusterConfig.tick_interval must be a finite number > 0, got {self.tick_interval!r}")
        if self.stall_ticks < 1:
            raise ValueError(f"ClusterConfig.stall_ticks must be >= 1, got {self.stall_ticks!r}")
