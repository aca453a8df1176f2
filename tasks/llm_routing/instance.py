"""An llm_routing case as the trusted side holds it (a trace: one seed's requests), and its file format:
the canonical gzipped CSV of instances/<set>.csv.gz (one row per request: seed, duration,
arrival_time, prompt_tokens, decode_tokens; trace after trace, each in arrival order)."""
from __future__ import annotations

import csv
import gzip
import io
import math
import re
from dataclasses import dataclass

from adrs_bench.instances import canonical_gzip
from adrs_bench.serving.config import ReplicaConfig

HEADER = ("seed", "duration", "arrival_time", "prompt_tokens", "decode_tokens")
REPLICA = ReplicaConfig()  # the replica every request must fit on its own (evaluator.CLUSTER's)


@dataclass(frozen=True)
class Trace:
    seed: int
    duration: float
    arrival_times: tuple[float, ...]
    prompt_tokens: tuple[int, ...]
    decode_tokens: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.arrival_times)


def to_csv_gz(traces: list[Trace]) -> bytes:
    """Canonical gzipped CSV (one row per request); identical traces give identical bytes."""
    text = io.StringIO()
    text.write(",".join(HEADER) + "\n")
    for trace in traces:
        if len(trace) == 0:
            raise ValueError(f"trace seed {trace.seed} has no requests; it cannot be stored")
        duration = repr(float(trace.duration))
        for t, p, d in zip(trace.arrival_times, trace.prompt_tokens, trace.decode_tokens):
            text.write(f"{trace.seed},{duration},{t:.6f},{p},{d}\n")
    return canonical_gzip(text.getvalue().encode("ascii"))


_INT = re.compile(r"[0-9]+\Z")
_NUMBER = re.compile(r"[0-9]+(\.[0-9]+)?\Z")


def parse_csv_gz(data: bytes) -> list[Trace]:
    """Traces from to_csv_gz bytes; any malformed row raises ValueError naming its line."""
    try:
        text = gzip.decompress(data).decode("ascii")
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise ValueError(f"expected gzipped ASCII CSV, got undecodable data ({exc})") from None
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if not rows or tuple(rows[0]) != HEADER:
        got = ",".join(rows[0]) if rows else "an empty file"
        raise ValueError(f"line 1: expected header {','.join(HEADER)}, got {got}")
    traces: list[Trace] = []
    seen: set[int] = set()
    cur: dict | None = None

    def close() -> None:
        if cur is not None:
            traces.append(Trace(cur["seed"], cur["duration"], tuple(cur["t"]), tuple(cur["p"]),
                                tuple(cur["d"])))

    for lineno, row in enumerate(rows[1:], start=2):
        def bad(why: str) -> ValueError:
            return ValueError(f"line {lineno}: {why} (row {','.join(row)!r})")
        if len(row) != len(HEADER):
            raise bad(f"expected {len(HEADER)} fields, got {len(row)}")
        s_seed, s_dur, s_t, s_p, s_d = row
        for field, value, pattern in (("seed", s_seed, _INT), ("duration", s_dur, _NUMBER),
                                      ("arrival_time", s_t, _NUMBER),
                                      ("prompt_tokens", s_p, _INT), ("decode_tokens", s_d, _INT)):
            if not pattern.match(value):
                raise bad(f"expected a non-negative number for {field}, got {value!r}")
        seed, duration, t, p, d = int(s_seed), float(s_dur), float(s_t), int(s_p), int(s_d)
        if p < 1 or d < 1:
            raise bad(f"expected positive token counts, got prompt {p}, decode {d}")
        if not REPLICA.fits_alone(p, d):
            raise bad(f"request of {p}+{d} tokens does not fit one replica")
        if not 0 < duration < math.inf or not t < duration:
            raise bad(f"expected 0 <= arrival_time < duration, got {t} and {duration}")
        if cur is None or seed != cur["seed"]:
            if seed in seen:
                raise bad(f"seed {seed} appears again after other traces")
            close()
            seen.add(seed)
            cur = {"seed": seed, "duration": duration, "t": [], "p": [], "d": []}
        elif duration != cur["duration"]:
            raise bad(f"duration {duration} differs from this trace's {cur['duration']}")
        elif t < cur["t"][-1]:
            raise bad(f"arrival_time {t} is before the previous one, {cur['t'][-1]}")
        cur["t"].append(t)
        cur["p"].append(p)
        cur["d"].append(d)
    close()
    return traces
