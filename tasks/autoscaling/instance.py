"""An autoscaling case as the trusted side holds it (a trace and its frozen static reference), and its
file format.

instances/<set>.json (pinned by spec.json's sha256) holds the traces' descriptions, their references,
how they were generated, and the sha256 of instances/<set>.csv.gz, which holds the requests
(trace_id, arrival_time, prompt_tokens, decode_tokens; trace order, then arrival order). A fresh set
is one self-contained JSON with the requests inline ("requests_inline").
"""
from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import math
import operator
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from adrs_bench.errors import InstanceSetNotFound
from adrs_bench.instances import canonical_gzip, check_pinned
from adrs_bench.serving import RequestSpec

from .shapes import SHAPES, Params, rate

FORMAT = "autoscaling-instances/1"
CSV_HEADER = ("trace_id", "arrival_time", "prompt_tokens", "decode_tokens")
REGENERATE = "regenerate with python -m adrs_bench.tasks.autoscaling.generate"
INSTANCES_DIR = Path(__file__).resolve().parent / "instances"


@dataclass(frozen=True)
class Trace:
    id: str
    shape: str
    seed: int
    duration: float
    params: Params  # sorted (name, value) pairs: sinusoid period, spike spike_start; none for diurnal
    arrival_times: tuple[float, ...]
    prompt_tokens: tuple[int, ...]
    decode_tokens: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.arrival_times)

    def requests(self) -> list[RequestSpec]:
        return [RequestSpec(t, p, d) for t, p, d in zip(self.arrival_times, self.prompt_tokens, self.decode_tokens)]

    def rate(self, t):
        return rate(self.shape, t, self.params)


@dataclass(frozen=True)
class Reference:
    static_replicas: int  # smallest fixed count within the bounds keeping the SLO
    static_gpu_hours: float  # that count's GPU-hours (charged until the last request finishes)
    # The slowdown at the SLO's percentile (settings.slo_percentile, 95), named as the instance files name it:
    static_p95_slowdown: float
    below_p95_slowdown: float | None  # at static_replicas - 1; None when static_replicas is 1


@dataclass(frozen=True)
class Case:
    trace: Trace
    reference: Reference

    @property
    def id(self) -> str:
        return self.trace.id


# --------------------------------------------------------------------------------------- writing


def _canonical(document: dict, compact: bool = False) -> bytes:
    if compact:
        text = json.dumps(document, sort_keys=True, separators=(",", ":"), allow_nan=False)
    else:
        text = json.dumps(document, sort_keys=True, indent=1, allow_nan=False)
    return (text + "\n").encode("ascii")


def _trace_entry(trace: Trace, reference: Reference) -> dict:
    return {"id": trace.id, "shape": trace.shape, "seed": trace.seed, "duration": trace.duration,
            "params": dict(trace.params), "requests": len(trace),
            "reference": {"static_replicas": reference.static_replicas,
                          "static_gpu_hours": reference.static_gpu_hours,
                          "static_p95_slowdown": reference.static_p95_slowdown,
                          "below_p95_slowdown": reference.below_p95_slowdown}}


def to_csv_gz(traces: Sequence[Trace]) -> bytes:
    """Canonical gzipped CSV (one row per request); identical traces give identical bytes."""
    text = io.StringIO()
    text.write(",".join(CSV_HEADER) + "\n")
    for trace in traces:
        for t, p, d in zip(trace.arrival_times, trace.prompt_tokens, trace.decode_tokens):
            text.write(f"{trace.id},{t:.6f},{p},{d}\n")
    return canonical_gzip(text.getvalue().encode("ascii"))


def set_document_bytes(name: str, generator: Mapping[str, Any], cases: Sequence[Case]) -> tuple[bytes, bytes]:
    """(instances/<name>.json bytes, instances/<name>.csv.gz bytes) of a shipped set."""
    csv_gz = to_csv_gz([c.trace for c in cases])
    document = {
        "format": FORMAT, "set": name, "generator": dict(generator),
        "requests_file": f"{name}.csv.gz", "requests_sha256": hashlib.sha256(csv_gz).hexdigest(),
        "traces": [_trace_entry(c.trace, c.reference) for c in cases],
    }
    return _canonical(document), csv_gz


def inline_document_bytes(name: str, generator: Mapping[str, Any], cases: Sequence[Case]) -> bytes:
    """A self-contained set JSON (requests inline, compact): a fresh set, built at run time."""
    document = {
        "format": FORMAT, "set": name, "generator": dict(generator),
        "requests_inline": {c.id: [[t, p, d] for t, p, d in zip(c.trace.arrival_times, c.trace.prompt_tokens,
                                                                   c.trace.decode_tokens)] for c in cases},
        "traces": [_trace_entry(c.trace, c.reference) for c in cases],
    }
    return _canonical(document, compact=True)


# --------------------------------------------------------------------------------------- parsing

_INT = re.compile(r"[0-9]+\Z")
_NUMBER = re.compile(r"[0-9]+(\.[0-9]+)?\Z")


def _need(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(f"autoscaling instances: {message}")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _parse_reference(tid: str, raw: Any) -> Reference:
    _need(isinstance(raw, dict) and set(raw) == {"static_replicas", "static_gpu_hours", "static_p95_slowdown",
                                                   "below_p95_slowdown"},
          f"trace {tid}: expected reference with static_replicas, static_gpu_hours, static_p95_slowdown, "
          f"below_p95_slowdown")
    n, hours, p95, below = (raw["static_replicas"], raw["static_gpu_hours"], raw["static_p95_slowdown"],
                            raw["below_p95_slowdown"])
    _need(isinstance(n, int) and not isinstance(n, bool) and n >= 1, f"trace {tid}: bad static_replicas {n!r}")
    _need(_is_number(hours) and hours > 0, f"trace {tid}: bad static_gpu_hours {hours!r}")
    _need(_is_number(p95) and p95 > 0, f"trace {tid}: bad static_p95_slowdown {p95!r}")
    _need((below is None) == (n == 1) and (below is None or _is_number(below)),
          f"trace {tid}: below_p95_slowdown must be a number unless static_replicas is 1, got {below!r}")
    return Reference(n, float(hours), float(p95), None if below is None else float(below))


def _parse_csv_rows(data: bytes, name: str, ids: Sequence[str]) -> dict[str, tuple[list, list, list]]:
    try:
        text = gzip.decompress(data).decode("ascii")
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise ValueError(f"{name}: expected gzipped ASCII CSV, got undecodable data ({exc})") from None
    rows = csv.reader(io.StringIO(text, newline=""))
    header = next(rows, None)
    if header is None or tuple(header) != CSV_HEADER:
        raise ValueError(f"{name}: line 1: expected header {','.join(CSV_HEADER)}, got "
                         f"{','.join(header) if header else 'an empty file'}")
    columns: dict[str, tuple[list, list, list]] = {}
    order = list(ids)
    position = -1
    current = None
    for lineno, row in enumerate(rows, start=2):
        def bad(why: str) -> ValueError:
            return ValueError(f"{name}: line {lineno}: {why} (row {','.join(row)!r})")
        if len(row) != len(CSV_HEADER):
            raise bad(f"expected {len(CSV_HEADER)} fields, got {len(row)}")
        tid, s_t, s_p, s_d = row
        if tid != current:
            if tid not in order or order.index(tid) <= position:
                raise bad(f"trace {tid!r} is not the next trace of the set")
            position, current = order.index(tid), tid
            columns[tid] = ([], [], [])
        if not _NUMBER.match(s_t):
            raise bad(f"expected a non-negative number for arrival_time, got {s_t!r}")
        if not _INT.match(s_p) or not _INT.match(s_d):
            raise bad("expected non-negative integer token counts")
        t, p, d = float(s_t), int(s_p), int(s_d)
        if p < 1 or d < 1:
            raise bad(f"expected positive token counts, got prompt {p}, decode {d}")
        times = columns[tid][0]
        if times and t < times[-1]:
            raise bad(f"arrival_time {t} is before the previous one, {times[-1]}")
        times.append(t)
        columns[tid][1].append(p)
        columns[tid][2].append(d)
    return columns


def _inline_columns(rows: list) -> tuple[list, list, list] | None:
    """The rows' columns when every row is well formed, checked column-wise at C speed (a cached fresh
    set holds ~270k rows); None sends the rows to the row-by-row check, whose message names the first
    bad row. Accepts exactly what that check accepts."""
    if not rows:
        return [], [], []
    if set(map(type, rows)) != {list} or set(map(len, rows)) != {3}:
        return None
    times, prompts, decodes = (list(column) for column in zip(*rows))
    if (not set(map(type, times)) <= {int, float} or set(map(type, prompts)) != {int}
            or set(map(type, decodes)) != {int} or min(prompts) < 1 or min(decodes) < 1):
        return None
    times = list(map(float, times))
    if not (all(map(math.isfinite, times)) and times[0] >= 0 and all(map(operator.le, times, times[1:]))):
        return None
    return times, prompts, decodes


def _parse_inline(raw: Any, ids: Sequence[str]) -> dict[str, tuple[list, list, list]]:
    _need(isinstance(raw, dict) and set(raw) == set(ids),
          "requests_inline must map every trace id to its requests")
    columns = {}
    for tid in ids:
        rows = raw[tid]
        _need(isinstance(rows, list), f"requests_inline[{tid}]: expected a list")
        fast = _inline_columns(rows)
        if fast is not None:
            columns[tid] = fast
            continue
        times, prompts, decodes = [], [], []
        for i, row in enumerate(rows):
            ok = (isinstance(row, list) and len(row) == 3 and _is_number(row[0]) and row[0] >= 0
                  and all(isinstance(x, int) and not isinstance(x, bool) and x >= 1 for x in row[1:])
                  and (not times or row[0] >= times[-1]))
            _need(ok, f"requests_inline[{tid}][{i}]: expected [arrival_time, prompt_tokens, decode_tokens] "
                      f"in arrival order, got {row!r}")
            times.append(float(row[0]))
            prompts.append(row[1])
            decodes.append(row[2])
        columns[tid] = (times, prompts, decodes)
    return columns


def parse_set(json_bytes: bytes, directory: Path | None = None) -> list[Case]:
    """Cases from a set JSON and (unless its requests are inline) directory / its requests_file."""
    try:
        document = json.loads(json_bytes)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"autoscaling instances: not JSON ({exc})") from None
    _need(isinstance(document, dict), "expected a JSON object")
    _need(document.get("format") == FORMAT, f"expected format {FORMAT!r}, got {document.get('format')!r}")
    raw_traces = document.get("traces")
    _need(isinstance(raw_traces, list) and raw_traces, "expected a non-empty traces list")
    entries = []
    for i, raw in enumerate(raw_traces):
        _need(isinstance(raw, dict) and {"id", "shape", "seed", "duration", "params", "requests",
                                         "reference"} <= set(raw),
              f"traces[{i}]: expected id, shape, seed, duration, params, requests, reference")
        tid = raw["id"]
        _need(isinstance(tid, str) and tid and "," not in tid, f"traces[{i}]: bad id {tid!r}")
        _need(raw["shape"] in SHAPES, f"trace {tid}: unknown shape {raw['shape']!r}")
        _need(isinstance(raw["seed"], int) and raw["seed"] >= 0, f"trace {tid}: bad seed {raw['seed']!r}")
        _need(_is_number(raw["duration"]) and raw["duration"] > 0, f"trace {tid}: bad duration")
        _need(isinstance(raw["params"], dict) and all(_is_number(v) for v in raw["params"].values()),
              f"trace {tid}: bad params")
        _need(isinstance(raw["requests"], int) and raw["requests"] > 0, f"trace {tid}: bad request count")
        entries.append(raw)
    ids = [e["id"] for e in entries]
    _need(len(set(ids)) == len(ids), "duplicate trace ids")

    if "requests_inline" in document:
        _need("requests_file" not in document, "expected requests_file or requests_inline, not both")
        columns = _parse_inline(document["requests_inline"], ids)
    else:
        name = document.get("requests_file")
        _need(isinstance(name, str) and name and "/" not in name and "\\" not in name,
              f"bad requests_file {name!r}")
        _need(directory is not None, "requests_file given but no directory to read it from")
        path = Path(directory) / name
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise InstanceSetNotFound(f"expected the instance file {path} (the requests of set "
                                      f"'{document.get('set')}'), found none; reinstall adrs-bench or "
                                      f"{REGENERATE}") from None
        except OSError as exc:
            raise ValueError(f"autoscaling instances: cannot read {path} ({exc.strerror}); {REGENERATE}") from None
        check_pinned(path, data, document.get("requests_sha256"), f"{document.get('set')}.json")
        columns = _parse_csv_rows(data, str(path), ids)

    cases = []
    for e in entries:
        tid = e["id"]
        times, prompts, decodes = columns.get(tid, ([], [], []))
        _need(len(times) == e["requests"], f"trace {tid}: expected {e['requests']} requests, got {len(times)}")
        _need(times[-1] < e["duration"], f"trace {tid}: arrival {times[-1]} at or after duration {e['duration']}")
        trace = Trace(id=tid, shape=e["shape"], seed=e["seed"], duration=float(e["duration"]),
                      params=tuple(sorted((k, float(v)) for k, v in e["params"].items())),
                      arrival_times=tuple(times), prompt_tokens=tuple(prompts), decode_tokens=tuple(decodes))
        cases.append(Case(trace, _parse_reference(tid, e["reference"])))
    return cases


def load_set(name: str) -> list[Case]:
    """A shipped set's cases, read from instances/ (the core's load_set also checks the pinned sha256)."""
    return parse_set((INSTANCES_DIR / f"{name}.json").read_bytes(), INSTANCES_DIR)
