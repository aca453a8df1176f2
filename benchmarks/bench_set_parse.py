"""How long autoscaling takes to parse a fresh set's bytes (what a cache hit pays): this tree, or this
tree against an older checkout side by side.

Run:  python benchmarks/bench_set_parse.py [--seed 7] [--before ../adrs-before] [--repeat 5]

The set's bytes are built once with this tree (or read from the fresh-set cache if it holds them) and
written to a temporary file; each tree then parses that file in a fresh interpreter (PYTHONPATH set to
the tree), trees alternating, best of N parses per interpreter. Older trees parse in
autoscaling.generate, newer ones in autoscaling.instance.
"""
from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent

PARSE = """
import sys, time
data = open(sys.argv[1], "rb").read()
try:
    from adrs_bench.tasks.autoscaling.instance import parse_set
except ImportError:
    from adrs_bench.tasks.autoscaling.generate import parse_set
best = float("inf")
for _ in range(int(sys.argv[2])):
    started = time.perf_counter()
    cases = parse_set(data)
    best = min(best, time.perf_counter() - started)
print(best, sum(len(c.trace) for c in cases))
"""


def parse_seconds(tree: Path, data_path: Path, repeat: int) -> tuple[float, int]:
    link = tree / "adrs_bench" / "tasks"
    if not link.exists():
        link.symlink_to(Path("..") / "tasks")
    out = subprocess.run([sys.executable, "-c", PARSE, str(data_path), str(repeat)], cwd=tree, check=True,
                         env=dict(os.environ, PYTHONPATH=str(tree)), capture_output=True, text=True).stdout.split()
    return float(out[0]), int(out[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--before", type=Path, help="an older checkout (git worktree)")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    sys.path.insert(0, str(HERE))
    from adrs_bench.fresh_cache import CacheKey, code_sha256, fetch
    from adrs_bench.instances import build_fresh_bytes
    from adrs_bench.registry import get_task

    task = get_task("autoscaling")
    data, _ = fetch(CacheKey(task.spec.id, args.seed, code_sha256()), lambda: build_fresh_bytes(task, args.seed, None))
    trees = {"this tree": HERE} if args.before is None else {"before": args.before.resolve(), "after": HERE}
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
          f"fresh:{args.seed}, {len(data)} bytes; best of {args.repeat} per interpreter, trees alternating")
    with tempfile.TemporaryDirectory() as folder:
        data_path = Path(folder) / "set.json"
        data_path.write_bytes(data)
        best = {name: float("inf") for name in trees}
        for _ in range(2):
            for name, tree in trees.items():
                seconds, rows = parse_seconds(tree, data_path, args.repeat)
                best[name] = min(best[name], seconds)
        for name in trees:
            print(f"{name}: {best[name]:.3f} s to parse {rows} requests")
        if args.before is not None:
            print(f"ratio after/before: {best['after'] / best['before']:.3f}")


if __name__ == "__main__":
    main()
