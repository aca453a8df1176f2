"""How long one batch step takes: the execution-time model, in one pluggable place.

A profile answers two questions, in seconds per step of one replica:
- `prefill_time(prompt_lengths)`: a prefill batch over these prompts;
- `decode_time(context_lengths)`: a decode batch whose requests hold these many tokens each.

A profile whose decode time depends on the batch only through its size and total context may also
define `decode_time_of(batch_size, total_context)`. The simulator then never builds context lists (the
fast mode's closed-form decode runs rely on it for speed); both methods must agree exactly. It may
also define `decode_times(batch_size, total_context, steps)`, the list of `decode_time_of(batch_size,
total_context + j * batch_size)` for j < steps, bit for bit. Every time a profile returns is checked
to be a finite number of seconds > 0 (`checked_step`) before the clock moves by it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Protocol, Sequence, Union, runtime_checkable


@runtime_checkable
class Profile(Protocol):
    def prefill_time(self, prompt_lengths: Sequence[int]) -> float: ...

    def decode_time(self, context_lengths: Sequence[int]) -> float: ...


@dataclass(frozen=True)
class A10Llama3Profile:
    """Llama-3-8B (fp16) on one NVIDIA A10: linear ops from vidur's profile, attention from the hardware
    peaks times the efficiency real kernels achieve.

    Linear ops (all 32 layers: QKV/output projections and MLP): `max(32 ms, 22.3 ms + 0.2186 ms × batched
    tokens)`, the affine fit to vidur's A10 profile of Llama-3-8B (DESIGN.md §5; vidur's predictions flatten
    at ≈32 ms below ~32 tokens, where reading the 16 GB of weights dominates). Batched tokens are the sum
    of prompt lengths in prefill and the number of requests in decode. Against vidur's predicted table
    (`../shared/data/a10_llama3_8b_linear_step_ms.csv`) the fit is within ~2% on average over 1..4096 tokens,
    up to +34% around 120 tokens (vidur's random forest is flat at 32-38 ms up to 128 tokens, then jumps)
    and it keeps growing past 4096 tokens, where vidur's forest saturates at 913 ms (it was not trained
    beyond); tests/serving/test_profile.py and benchmarks/bench_serving.py measure this.

    Decode attention is memory-bound: each step reads the batch's whole KV cache, 131072 bytes per token
    (32 layers × 8 KV heads × 128 dims × 2 (K and V) × 2 bytes), at `memory_bandwidth_efficiency` (0.75)
    of the A10's 600 GB/s peak (NVIDIA's datasheet), i.e. 450 GB/s: memory-bound kernels sustain about
    three quarters of peak HBM bandwidth, not the peak (DESIGN.md §5).

    Prefill attention is compute-bound: per layer QKᵀ and AV are each an L×L×d matrix product with
    d = 4096 (32 query heads × 128; grouped KV heads do not reduce FLOPs), 2·L²·d FLOPs each, and causal
    masking (FlashAttention skips masked tiles) halves the total to 2·L²·d per layer; × 32 layers, at
    `attention_flops_efficiency` (0.5) of the A10's 125 TFLOP/s fp16 tensor peak (datasheet), i.e.
    62.5 TFLOP/s: FlashAttention-2 reports 50-73% of the tensor peak in its forward pass on A100, the
    lower end for causal fp16 at short sequence lengths (Dao, 2023). A 4096-token prompt adds 70 ms to
    a ≈918 ms step.

    Both efficiencies are fields: `A10Llama3Profile(memory_bandwidth_efficiency=1.0,
    attention_flops_efficiency=1.0)` is the peak-only profile of the tasks' earlier versions.
    """

    linear_floor_s: float = 0.032
    linear_base_s: float = 0.0223
    linear_per_token_s: float = 0.0002186
    kv_bytes_per_token: int = 131072
    memory_bandwidth_bytes_per_s: float = 600e9  # A10 peak (datasheet)
    peak_flops: float = 125e12  # A10 fp16 tensor peak, dense (datasheet)
    memory_bandwidth_efficiency: float = 0.75
    attention_flops_efficiency: float = 0.5
    num_layers: int = 32
    hidden_size: int = 4096

    def __post_init__(self) -> None:
        for name in ("memory_bandwidth_efficiency", "attention_flops_efficiency"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
                raise ValueError(f"A10Llama3Profile.{name} must be a number in (0, 1], got {value!r}; "
                                 f"it is the fraction of the hardware peak the kernels achieve")

    @property
    def achieved_bandwidth(self) -> float:
        """Bytes per second decode attention reads the KV cache at (peak × efficiency)."""
        return self.memory_bandwidth_bytes_per_s * self.memory_bandwidth_efficiency

    @property
    def achieved_flops(self) -> float:
        """FLOP/s prefill attention runs at (peak × efficiency)."""
        return self.peak_flops * self.attention_flops_efficiency

    def linear_time(self, batched_tokens: int) -> float:
        return max(self.linear_floor_s, self.linear_base_s + self.linear_per_token_s * batched_tokens)

    def prefill_time(self, prompt_lengths: Sequence[int]) -> float:
        squares = sum(length * length for length in prompt_lengths)
        attention_flops = 2.0 * self.hidden_size * self.num_layers * squares
        return self.linear_time(sum(prompt_lengths)) + attention_flops / self.achieved_flops

    def decode_time(self, context_lengths: Sequence[int]) -> float:
        return self.decode_time_of(len(context_lengths), sum(context_lengths))

    def decode_time_of(self, batch_size: int, total_context: int) -> float:
        return (self.linear_time(batch_size)
                + total_context * self.kv_bytes_per_token / self.achieved_bandwidth)

    def decode_times(self, batch_size: int, total_context: int, steps: int) -> list[float]:
        """`decode_time_of` for `steps` consecutive steps of one batch (each adds `batch_size` tokens of
        context), element for element the same floats, computed faster."""
        linear = self.linear_time(batch_size)
        per_token, bandwidth = self.kv_bytes_per_token, self.achieved_bandwidth
        return [linear + (total_context + j * batch_size) * per_token / bandwidth for j in range(steps)]

    def solo_latency(self, prompt_tokens: int, decode_tokens: int) -> float:
        """Closed form of `solo_latency(self, ...)` (same value up to float summation order)."""
        steps = decode_tokens - 1
        contexts = steps * (prompt_tokens + 1) + steps * (steps - 1) // 2  # sum of P+g for g = 1..steps
        return (self.prefill_time([prompt_tokens]) + steps * self.linear_time(1)
                + contexts * self.kv_bytes_per_token / self.achieved_bandwidth)


StepSeconds = Union[float, Mapping[int, float], Callable[[str, int], float]]


@dataclass(frozen=True)
class TableProfile:
    """Fixed step times, so a test can pin the scheduler against a known clock.

    `step_seconds` is a number (every step takes that long), a mapping from batched tokens (the sum of
    prompt lengths for prefill, the number of requests for decode) to seconds, or a callable
    `(phase, batched_tokens) -> seconds` with phase "prefill" or "decode".
    """

    step_seconds: StepSeconds = 1.0

    def _lookup(self, phase: str, batched_tokens: int) -> float:
        table = self.step_seconds
        if isinstance(table, (int, float)):
            return float(table)
        if isinstance(table, Mapping):
            return float(table[batched_tokens])
        return float(table(phase, batched_tokens))

    def prefill_time(self, prompt_lengths: Sequence[int]) -> float:
        return self._lookup("prefill", sum(prompt_lengths))

    def decode_time(self, context_lengths: Sequence[int]) -> float:
        return self._lookup("decode", len(context_lengths))

    def decode_time_of(self, batch_size: int, total_context: int) -> float:
        return self._lookup("decode", batch_size)


def checked_step(seconds: float, what: str) -> float:
    """A profile's step time, refused unless a finite number of seconds > 0 (a bad profile must not
    stall or reverse the clock)."""
    if not seconds > 0 or seconds == float("inf"):
        raise ValueError(f"profile {what} returned {seconds!r}; expected a finite number of seconds > 0")
    return seconds


def checked_steps(seconds: list[float], what: str) -> None:
    """`checked_step` over a decode run's step times, in one pass when they are all good."""
    if not min(seconds) > 0 or max(seconds) == float("inf"):
        bad = next(s for s in seconds if not 0 < s < float("inf"))
        raise ValueError(f"profile {what} returned {bad!r}; expected a finite number of seconds > 0")


def solo_latency(profile: Profile, prompt_tokens: int, decode_tokens: int) -> float:
    """A request's end-to-end time alone on an idle replica (the denominator of autoscaling's slowdown):
    one prefill of the prompt, then one decode step per further output token. Uses the profile's closed
    form when it has one."""
    closed_form = getattr(profile, "solo_latency", None)
    if closed_form is not None:
        return closed_form(prompt_tokens, decode_tokens)
    total = profile.prefill_time([prompt_tokens])
    for generated in range(1, decode_tokens):
        total += profile.decode_time([prompt_tokens + generated])
    return total
