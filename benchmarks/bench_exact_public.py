"""Time the exact solve of the 50 public prism_placement cases (target: under 10 s in total).

    python benchmarks/bench_exact_public.py
"""
from __future__ import annotations

import time

from adrs_bench.tasks.prism_placement import exact, generate


def main() -> int:
    cases = generate.build_cases("public", references=False)
    start = time.perf_counter()
    import scipy.optimize  # noqa: F401 - the one-off import of scipy is not counted

    import_s = time.perf_counter() - start
    times, values, optimal = [], [], 0
    total = time.perf_counter()
    for case in cases:
        models = generate._specs(case["models"])
        t = time.perf_counter()
        ref = exact.solve(case["gpu_num"], models)
        times.append(time.perf_counter() - t)
        values.append(ref.value)
        optimal += ref.status == "optimal"
    total = time.perf_counter() - total
    score = 1 / (float(sum(values)) / len(values)) + 1
    print(f"scipy import       {import_s:.2f} s (not counted)")
    print(f"cases              {len(cases)} ({optimal} proven optimal)")
    print(f"total              {total:.2f} s")
    print(f"mean per case      {1000 * total / len(cases):.1f} ms (max {1000 * max(times):.1f} ms)")
    print(f"1/mean(value) + 1  {score:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
