"""`adrs-bench export FRAMEWORK TASK DIR`: drop-in evaluators for the evolution frameworks.

Each framework gets the files it expects, all calling `adrs_bench.evaluate` (so scores are the
harness's, bit for bit), with the task's deadline and fail-fast settings baked in:

- openevolve: evaluator.py (`evaluate`, `evaluate_stage1` on a small fixed quick subset of dev),
  initial_program.py (the task's example between EVOLVE-BLOCK markers), config.yaml;
- shinka: evaluate.py, run as ShinkaEvolve's scheduler runs it (`--program_path P --results_dir D`);
- skydiscover: evaluator.py (`evaluate(program_path) -> dict`) and evaluate.sh (`PROGRAM MODE`, one
  JSON object on stdout).

Search-time entry points are pinned to `dev`: none of them can reach the held-out `test` set, which
only `evaluate.sh PROGRAM test` scores (for the final, reported number).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from .errors import UsageError
from .registry import Task

FRAMEWORKS = ("openevolve", "shinka", "skydiscover")
SEARCH_SET = "dev"
HELD_OUT_SET = "test"


@dataclass(frozen=True)
class ExportSettings:
    """What the exported files bake in (one place: each template reads these)."""

    task: str
    deadline_s: float  # bounds one whole evaluation on dev
    quick_deadline_s: float  # bounds the quick stage
    max_failures: int  # stop after this many timeouts, crashes or memory kills
    quick_cases: tuple[str, ...]  # the fixed quick subset of dev (stage 1)
    threshold: float  # the quick stage's pass mark, on the task's own score scale


# Stage-1 pass marks on each task's scale: prism scores 0-1 (the naive greedy gets 0.22 on dev, so
# 0.1 only prunes programs that fail most cases); routing and autoscaling score about 1 for a sound
# policy (1.0 is LLQ / a matching static count), 0 for a failed case.
THRESHOLDS = {"prism_placement": 0.1, "llm_routing": 0.5, "autoscaling": 0.5}


def quick_subset(task: Task) -> tuple[str, ...]:
    """A small, fixed, spread-out subset of dev: about one case in fifteen (every family of prism's
    dev, which is ordered by family), at least one."""
    from .instances import load_set

    ids = [task.plugin.case_id(case) for case in load_set(task, SEARCH_SET).cases]
    count = max(1, min(8, len(ids) // 15))
    step = len(ids) // count
    return tuple(ids[i * step] for i in range(count))


def settings_for(task: Task, deadline_s: float | None = None) -> ExportSettings:
    """Deadlines from the task's own limits: the whole of dev within its total limit, capped at ten
    minutes by default; the quick stage within a fifth of that."""
    limits = task.spec.limits
    deadline = float(deadline_s) if deadline_s else min(limits.total_seconds, 600.0)
    quick = min(deadline, max(10.0, float(math.ceil(deadline / 5))))
    return ExportSettings(task=task.spec.name, deadline_s=deadline, quick_deadline_s=quick,
                          max_failures=5, quick_cases=quick_subset(task),
                          threshold=THRESHOLDS.get(task.spec.name, 0.5))


def export(framework: str, task: Task, directory: Path, deadline_s: float | None = None) -> list[Path]:
    """Write `framework`'s evaluator files for `task` into `directory`; return the paths written."""
    if framework not in FRAMEWORKS:
        raise UsageError(f"expected a framework, one of {', '.join(FRAMEWORKS)}; got '{framework}'")
    settings = settings_for(task, deadline_s)
    directory.mkdir(parents=True, exist_ok=True)
    files = {"openevolve": openevolve_files, "shinka": shinka_files, "skydiscover": skydiscover_files}[framework](
        task, settings)
    written = []
    for name, text in files.items():
        path = directory / name
        path.write_text(text)
        if name.endswith(".sh"):
            path.chmod(0o755)
        written.append(path)
    return written


def settings_block(settings: ExportSettings) -> str:
    return (f"TASK = {settings.task!r}\n"
            f"SEARCH_SET = {SEARCH_SET!r}  # never the held-out test set\n"
            f"DEADLINE_S = {settings.deadline_s!r}  # bounds one whole evaluation\n"
            f"QUICK_DEADLINE_S = {settings.quick_deadline_s!r}\n"
            f"MAX_FAILURES = {settings.max_failures!r}  # stop after this many timeouts, crashes or memory kills\n"
            f"QUICK_CASES = {json.dumps(list(settings.quick_cases))}  # a fixed subset of {SEARCH_SET}\n")


COMMON = '''
def metrics_of(result):
    """The numbers a framework ranks by: combined_score is the task's score (failed cases count 0),
    always. A task figure of the same name (prism's ADRS combined score, on another scale and only
    when every case is ok) is kept as task_<name>, never in its place."""
    metrics = {"combined_score": float(result.score), "cases_ok": float(result.ok),
               "cases_failed": float(result.failed)}
    for key, value in result.record["aggregate"]["extra"].items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            metrics[f"task_{key}" if key in ("combined_score", "cases_ok", "cases_failed") else key] = float(value)
    return metrics


def run(program_path, cases=None, deadline_s=DEADLINE_S, set_name=SEARCH_SET):
    """(metrics, feedback text, record or None); never raises for a bad program."""
    from adrs_bench import evaluate
    from adrs_bench.errors import AdrsError

    try:
        result = evaluate(TASK, program_path, set_name, cases=cases, deadline_s=deadline_s,
                          max_failures=MAX_FAILURES)
    except AdrsError as exc:  # refused before it ran (syntax, policy, entry point, missing file)
        return {"combined_score": 0.0, "cases_ok": 0.0}, f"error: {exc}", None
    return metrics_of(result), result.feedback(), dict(result.record)
'''


def openevolve_files(task: Task, settings: ExportSettings) -> dict[str, str]:
    evaluator = f'''"""OpenEvolve evaluator for adrs-bench's {settings.task} (written by `adrs-bench export openevolve`).

evaluate(program_path) scores the program on {SEARCH_SET} through adrs_bench.evaluate (sandboxed, with a
deadline of DEADLINE_S seconds and fail-fast after MAX_FAILURES costly failures); evaluate_stage1 scores
the fixed quick subset QUICK_CASES first, so OpenEvolve's cascade prunes broken programs cheaply, and
evaluate_stage2 (what passed) the whole set, whose combined_score then stands. The
metrics are numbers only (OpenEvolve's cascade keeps numbers); the feedback is in artifacts["feedback"].
"""
{settings_block(settings)}{COMMON}

def as_openevolve(metrics, feedback):
    try:
        from openevolve.evaluation_result import EvaluationResult
    except ImportError:  # openevolve not importable: the plain dict it also accepts
        return dict(metrics, feedback=feedback)
    return EvaluationResult(metrics=metrics, artifacts={{"feedback": feedback}})


def evaluate(program_path):
    metrics, feedback, _ = run(program_path)
    return as_openevolve(metrics, feedback)


def evaluate_stage1(program_path):
    metrics, feedback, _ = run(program_path, cases=QUICK_CASES, deadline_s=QUICK_DEADLINE_S)
    return as_openevolve(metrics, feedback)


def evaluate_stage2(program_path):
    """The whole of the search set, for the candidates the quick stage let through."""
    return evaluate(program_path)
'''
    example = task.spec.path(task.spec.example).read_text()
    initial = "# EVOLVE-BLOCK-START\n" + example.rstrip("\n") + "\n# EVOLVE-BLOCK-END\n"
    config = f'''# OpenEvolve configuration for adrs-bench's {settings.task} (written by `adrs-bench export openevolve`).
# Fill in the llm section for your provider; the evaluator section matches the exported evaluator.py.
max_iterations: 100
checkpoint_interval: 10
llm:
  models:
    - name: "gpt-4o-mini"   # your model
      weight: 1.0
evaluator:
  # Above the evaluator's own deadline ({settings.deadline_s:g} s), so adrs-bench always ends an evaluation
  # itself (every case accounted for, no child left) before OpenEvolve would give up on it.
  timeout: {int(settings.deadline_s + 60)}
  max_retries: 0            # scores are deterministic: a retry gives the same number
  cascade_evaluation: true
  cascade_thresholds: [{settings.threshold}]   # on {settings.task}'s own score scale
  parallel_evaluations: 1   # each evaluation runs sandboxed children of its own
'''
    readme = f'''# OpenEvolve evaluator for adrs-bench's {settings.task}

Written by `adrs-bench export openevolve {settings.task} DIR`.

    openevolve-run.py initial_program.py evaluator.py --config config.yaml

- `evaluator.py`: `evaluate(program_path)` scores a candidate on `{SEARCH_SET}` with `adrs_bench.evaluate`
  (sandboxed; deadline {settings.deadline_s:g} s; stops after {settings.max_failures} timeouts or crashes,
  the cases not reached counting as failed). `evaluate_stage1` scores {len(settings.quick_cases)} fixed
  case(s) of `{SEARCH_SET}` first ({", ".join(settings.quick_cases)}); when its `combined_score` is at
  least {settings.threshold}, `evaluate_stage2` scores the whole set and its figures stand. Metrics: `combined_score` (the task's score), `cases_ok`,
  `cases_failed` and the task's numeric aggregates; `artifacts["feedback"]` says what failed and why.
  Neither function can reach the held-out `{HELD_OUT_SET}` set.
- `initial_program.py`: the task's example between `# EVOLVE-BLOCK-START` and `# EVOLVE-BLOCK-END`.
- `config.yaml`: the evaluator timeout above the deadline, cascade threshold on the task's scale.

Report the final program's score on `{HELD_OUT_SET}` with `adrs-bench run {settings.task} best.py --set {HELD_OUT_SET}`.
'''
    return {"evaluator.py": evaluator, "initial_program.py": initial, "config.yaml": config, "README.md": readme}


def shinka_files(task: Task, settings: ExportSettings) -> dict[str, str]:
    evaluate = f'''"""ShinkaEvolve evaluator for adrs-bench's {settings.task} (written by `adrs-bench export shinka`).

Run as ShinkaEvolve's scheduler runs it:

    python evaluate.py --program_path PROGRAM --results_dir DIR [--set dev]

It writes DIR/metrics.json ({{"combined_score", "public": numeric aggregates, "private": set and
evaluator sha256, "text_feedback"}}), DIR/correct.json ({{"correct": every case ok, "error": the first
failure or null}}) and DIR/record.json (the full result record), and exits 0 whenever they are written.
"""
import argparse
import json
import sys
from pathlib import Path

{settings_block(settings)}{COMMON}

def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--program_path", required=True)
    parser.add_argument("--results_dir", required=True)
    parser.add_argument("--set", default=SEARCH_SET, choices=[SEARCH_SET, "smoke"],
                        help="instance set (the held-out test set is never used for search)")
    args = parser.parse_args(argv)
    metrics, feedback, record = run(args.program_path, set_name=args.set)
    out = Path(args.results_dir)
    out.mkdir(parents=True, exist_ok=True)
    public = {{key: value for key, value in metrics.items() if key != "combined_score"}}
    private = ({{"set": record["set"]["name"], "set_sha256": record["set"]["sha256"],
                "evaluator_sha256": record["provenance"]["evaluator_sha256"]}} if record else {{}})
    (out / "metrics.json").write_text(json.dumps({{"combined_score": metrics["combined_score"], "public": public,
                                                  "private": private, "text_feedback": feedback}}, indent=2))
    failed = [i for i in record["instances"] if i["status"] != "ok"] if record else []
    correct = record is not None and not failed
    error = (None if correct else feedback if record is None else
             f"{{failed[0]['id']}}: {{failed[0]['status']}}: {{failed[0]['message']}}")
    (out / "correct.json").write_text(json.dumps({{"correct": correct, "error": error}}, indent=2))
    (out / "record.json").write_text(json.dumps(record, indent=2) if record else "null")
    return 0


if __name__ == "__main__":
    sys.exit(main())
'''
    readme = f'''# ShinkaEvolve evaluator for adrs-bench's {settings.task}

Written by `adrs-bench export shinka {settings.task} DIR`. Point ShinkaEvolve's job configuration at
`evaluate.py`; its scheduler runs `python evaluate.py --program_path P --results_dir D`.

- `D/metrics.json`: `combined_score` (the task's score on `{SEARCH_SET}`, failed cases counting 0), `public`
  (the task's numeric aggregates, `cases_ok`, `cases_failed`), `private` (the set and evaluator sha256),
  `text_feedback` (what failed and why, the task's main figures).
- `D/correct.json`: `correct` is true when **every case of the set ran ok** (a program that fails one
  case, by an exception, a wrong answer or a timeout, is not correct, whatever its score); `error` is
  the first failure's message, or the reason the program was refused, else null.
- `D/record.json`: the result record, exactly as `adrs-bench run` writes it.
- Exit status 0 whenever the files are written, as ShinkaEvolve expects; a deadline of
  {settings.deadline_s:g} s and a stop after {settings.max_failures} timeouts or crashes bound the time.

`--set` takes `{SEARCH_SET}` or `smoke` only: the held-out `{HELD_OUT_SET}` set is for the final report,
`adrs-bench run {settings.task} best.py --set {HELD_OUT_SET}`.
'''
    return {"evaluate.py": evaluate, "README.md": readme}


def skydiscover_files(task: Task, settings: ExportSettings) -> dict[str, str]:
    evaluator = f'''"""SkyDiscover evaluator for adrs-bench's {settings.task} (written by `adrs-bench export skydiscover`).

evaluate(program_path) -> dict with combined_score (the task's score on {SEARCH_SET}), never raising:
a program that cannot run gives {{"combined_score": 0.0, "error": ...}}.
"""
import json
import sys

{settings_block(settings)}HELD_OUT_SET = {HELD_OUT_SET!r}
{COMMON}

def evaluate(program_path):
    metrics, feedback, _ = run(program_path)
    if metrics.get("cases_ok", 0.0) == 0.0 and feedback.startswith("error: "):
        return {{"combined_score": 0.0, "error": feedback[len("error: "):]}}
    return dict(metrics, feedback=feedback)


def main(argv, out=sys.stdout):
    """evaluate.sh's body: PROGRAM MODE (train: {SEARCH_SET}; test: the held-out {HELD_OUT_SET} set);
    one JSON object on `out` (evaluate.sh's real stdout)."""
    program, mode = argv
    if mode not in ("train", "test"):
        out.write(json.dumps({{"status": "error", "combined_score": 0.0, "metrics": {{}},
                              "artifacts": {{"error": f"expected MODE train or test, got {{mode!r}}"}}}}) + "\\n")
        return 2
    metrics, feedback, record = run(program, set_name=SEARCH_SET if mode == "train" else HELD_OUT_SET)
    status = "error" if record is None else "ok" if record["aggregate"]["failed"] == 0 else "partial"
    out.write(json.dumps({{"status": status, "combined_score": metrics["combined_score"], "metrics": metrics,
                          "artifacts": {{"feedback": feedback}}}}) + "\\n")
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
'''
    script = """#!/usr/bin/env bash
# evaluate.sh PROGRAM MODE: score PROGRAM (MODE train: the dev set; test: the held-out test set) and print
# exactly one JSON object on stdout ({"status", "combined_score", "metrics", "artifacts"}); everything
# else goes to stderr.
set -euo pipefail
if [ "$#" -ne 2 ]; then
  echo "usage: evaluate.sh PROGRAM MODE (MODE: train or test)" >&2
  exit 2
fi
here="$(cd "$(dirname "$0")" && pwd)"
exec 3>&1 1>&2  # fd 3 is the real stdout, for the one JSON object; stdout itself goes to stderr
exec python3 -c 'import os, sys; out = os.fdopen(3, "w"); sys.path.insert(0, sys.argv[1]); import evaluator; sys.exit(evaluator.main(sys.argv[2:], out))' "$here" "$1" "$2"
"""
    readme = f'''# SkyDiscover evaluator for adrs-bench's {settings.task}

Written by `adrs-bench export skydiscover {settings.task} DIR`.

- `evaluator.py`: `evaluate(program_path) -> dict`, plain Python, with `combined_score` (the task's score
  on `{SEARCH_SET}`, failed cases counting 0), the task's numeric aggregates and `feedback`; a program
  that cannot run gives `{{"combined_score": 0.0, "error": "..."}}` instead of raising.
- `evaluate.sh PROGRAM MODE`: prints exactly one JSON object on stdout, `{{"status", "combined_score",
  "metrics", "artifacts"}}`, and everything else on stderr. MODE `train` scores `{SEARCH_SET}`; MODE
  `test` scores the held-out `{HELD_OUT_SET}` set (for the final report only). `status` is `ok` (every
  case ok), `partial` (some failed) or `error` (refused before running).

Deadline {settings.deadline_s:g} s per evaluation; stops after {settings.max_failures} timeouts or crashes.
'''
    return {"evaluator.py": evaluator, "evaluate.sh": script, "README.md": readme}
