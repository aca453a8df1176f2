"""The `adrs-bench` command: a thin click layer over the library. It parses, calls, prints, and
turns every AdrsError into a one-line `error: ...` with its exit status (errors.py has the list);
anything unexpected is one line too, its traceback saved to a file."""
from __future__ import annotations

import functools
import os
import sys
import time
from pathlib import Path

import click

from . import __version__
from .blas import single_threaded
from .errors import EXIT_CODES_HELP, EXIT_INTERNAL, EXIT_INTERRUPTED, AdrsError
from .fresh_names import FRESH_PATTERN

# The harness itself needs no threaded BLAS: set this before anything imports numpy (blas.py).
single_threaded(os.environ)


def one_line_errors(func):
    """Every way a command can fail ends in one line on stderr and a documented exit status: an
    AdrsError as it is; Ctrl-C before anything was kept; and anything else (a bug in adrs-bench) with
    its traceback saved to a file whose path the line gives."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except AdrsError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted: stopped before anything could be kept; nothing was saved", err=True)
            sys.exit(EXIT_INTERRUPTED)
        except click.ClickException:
            raise
        except Exception as exc:
            from .outputs import save_traceback

            saved = save_traceback(exc)
            text = " ".join(str(exc).split())[:200]
            where = f"; the traceback is in {saved}" if saved else ""
            click.echo(f"error: internal error in adrs-bench ({type(exc).__name__}: {text}){where}; please report "
                       "it", err=True)
            sys.exit(EXIT_INTERNAL)

    return wrapper


@click.group(epilog=EXIT_CODES_HELP)
@click.version_option(__version__, prog_name="adrs-bench")
def main() -> None:
    """Score AI-written systems algorithms on frozen, seeded instances, sandboxed.

    Start with `adrs-bench list`, then `adrs-bench new TASK mine.py` and `adrs-bench run TASK mine.py`.
    """


@main.command("list")
@one_line_errors
def list_tasks() -> None:
    """List the tasks with their versioned ids and one-line summaries."""
    from .registry import get_task, task_names

    for name in task_names():
        spec = get_task(name).spec
        click.echo(f"{spec.id:<24} {spec.title}")


@main.command()
@click.argument("task")
@one_line_errors
def show(task: str) -> None:
    """Show a task: interface, limits, metric, instance sets and the baselines' scores."""
    from .leaderboard import baseline_scores
    from .registry import get_task

    spec = get_task(task).spec
    click.echo(f"{spec.id}: {spec.title}\n\n{spec.summary}\n")
    click.echo(f"interface   {spec.interface.kind}: {spec.interface.signature}")
    click.echo(f"imports     {', '.join(spec.allowed_imports)}")
    lim = spec.limits
    per_call = f"{lim.call_seconds:g} s per call, " if lim.call_seconds else ""
    click.echo(f"limits      {per_call}{lim.instance_seconds:g} s per instance, {lim.total_seconds:g} s in total, "
               f"{lim.memory_mb} MB address space, {lim.cpu_seconds} CPU s")
    if spec.parameters:
        click.echo("parameters  " + ", ".join(f"{k} {v}" for k, v in spec.parameters.items()))
    click.echo(f"metric      {spec.metric.name} ({spec.metric.direction}): {spec.metric.description}\n")
    click.echo("instance sets:")
    for s in spec.sets.values():
        held = " [held out]" if s.held_out else ""
        click.echo(f"  {s.name:<8} {s.cases:>4} cases{held}  {s.purpose}\n           reference: {s.reference}")
    if spec.fresh_allowed:
        click.echo(f"  {FRESH_PATTERN:<14} {spec.fresh_description}")
    scores = baseline_scores(spec)
    click.echo("\nbaselines (score by set):")
    for name, file in spec.baselines.items():
        by_set = scores.get(name, {})
        shown = ", ".join(f"{k} {v:.4f}" for k, v in sorted(by_set.items())) or "no committed result"
        click.echo(f"  {name:<24} {shown}   ({file})")


@main.command()
@click.argument("task")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite FILE if it exists.")
@one_line_errors
def new(task: str, file: Path, force: bool) -> None:
    """Write a starter submission for TASK to FILE: the task's example, commented field by field, whose
    "Try it" line names FILE. It runs as it is."""
    from .errors import UsageError
    from .registry import get_task
    from .starter import starter_text

    spec = get_task(task).spec
    if file.exists() and not force:
        raise UsageError(f"expected a new file, got an existing {file}; pick another name or pass --force")
    text = starter_text(spec, file)
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(text)
    click.echo(f"wrote {file}; try: adrs-bench run {spec.name} {file}")


@main.command()
@click.argument("task")
@click.argument("file", type=click.Path(path_type=Path))
@one_line_errors
def validate(task: str, file: Path) -> None:
    """Check FILE statically against TASK's spec, without running it."""
    from .registry import get_task
    from .sandbox.checks import check_submission

    spec = get_task(task).spec
    checked = check_submission(file, spec)
    for warning in checked.warnings:
        click.echo(f"warning: {warning}")
    click.echo(f"ok: {file} defines {checked.entry} and passes the sandbox policy "
               f"(sha256 {checked.sha256[:12]})")


def executor_options(command):
    command = click.option("--address", help="With --executor ray: the cluster's head, HOST:PORT (e.g. HEAD:6379) or "
                                             "'auto'; default: RAY_ADDRESS, else a local cluster started now.")(command)
    return click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True,
                        help="What runs the cases: this machine's threads, or Ray tasks on a cluster "
                             '(pip install "adrs-bench[ray]").')(command)


def make_executor(executor: str, workers: int | None, address: str | None):
    from .executors import get_executor

    return get_executor(executor, workers, address)


@main.command(epilog=EXIT_CODES_HELP)
@click.argument("task")
@click.argument("file", required=False, type=click.Path(path_type=Path))
@click.option("--set", "set_name", help=f"Instance set (default: the task's default_set), or {FRESH_PATTERN}.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("results"), show_default=True,
              help="Directory for the result record.")
@click.option("--label", help="Name of the submission in the record and leaderboard (default: file stem).")
@click.option("--json", "as_json", is_flag=True, help="Print the result record as JSON instead of tables.")
@click.option("--artifacts", type=click.Path(file_okay=False, path_type=Path),
              help="Also write per-instance diagnostics (CSV) to this directory.")
@click.option("--no-save", is_flag=True, help="Do not write the result record.")
@click.option("--workers", type=click.IntRange(1, 4096),
              help="Sandboxed children running cases in parallel (local, default 1), or the shares the cases are "
                   "spread over (ray, default one per CPU of the cluster). Scores do not depend on it.")
@executor_options
@click.option("--strict", is_flag=True, help="Exit 1 if any instance failed.")
@click.option("--quiet", is_flag=True, help="No progress on stderr (by default: a line redrawn on a terminal, "
                                            "else one line per finished case).")
@click.option("--require-isolation", is_flag=True,
              help="Refuse to run unless every sandbox child has the full OS boundary (docs/sandbox.md).")
@click.option("--deadline", "deadline_s", type=click.FloatRange(min=0, min_open=True),
              help="Stop after SECONDS; every case not reached counts as a failed timeout (\"not run: deadline\").")
@click.option("--max-failures", type=click.IntRange(min=1),
              help="Stop after N timeouts, crashes or memory kills; the cases not reached count as failed.")
@click.option("--meta", "meta_pairs", multiple=True, metavar="KEY=VALUE",
              help="Who made the submission and how, stored in the record (repeatable; keys: framework, model, "
                   "budget, generations, author, url).")
@one_line_errors
def run(task: str, file: Path | None, set_name: str | None, out: Path, label: str | None, as_json: bool,
        artifacts: Path | None, no_save: bool, workers: int | None, executor: str, address: str | None, strict: bool,
        quiet: bool, require_isolation: bool, deadline_s: float | None, max_failures: int | None,
        meta_pairs: tuple[str, ...]) -> None:
    """Run FILE (default: the task's shipped example) on an instance set and score it.

    With --executor ray the cases are spread as Ray tasks over the cluster at --address (or a local one);
    the record is the one a local run writes, except provenance.executor.

    Ctrl-C or SIGTERM (local executor) stops the run, keeps every finished case and saves a record
    marked interrupted (the cases not run count as failed); a second one stops at once."""
    from .sandbox import forkserver

    if executor == "local":
        forkserver.prestart()  # first: the fork server boots while this process imports and loads the set
    from . import results
    from .api import evaluate
    from .console import RunProgress
    from .fresh_names import is_fresh, parse_fresh, resolve_fresh
    from .interrupt import StopOnSignals
    from .outputs import writable_folder
    from .registry import get_task
    from .report import failures_table, summary_table
    from .runner import Cancellation

    meta = results.parse_meta(meta_pairs)  # refused before anything runs
    loaded = get_task(task)
    example = file is None
    if example:
        file = loaded.spec.path(loaded.spec.example)
        label = label or "example"
    if not no_save:
        writable_folder(out, "--out")  # before the first case: a bad folder must not cost the run
    if artifacts:
        writable_folder(artifacts, "--artifacts")
    if set_name and is_fresh(set_name):
        set_name = resolve_fresh(set_name)  # plain `fresh`: the seed is drawn here, so the note names the set
        parse_fresh(set_name)  # a malformed seed is refused before the note
    runner = make_executor(executor, workers, address)
    shown = None if quiet else RunProgress()
    cancellation = Cancellation()  # only the local executor registers with it (Ray shares return whole)
    with StopOnSignals(cancellation) as stop:
        try:
            result = evaluate(loaded, file, set_name, label=label, progress=shown and shown.case_done,
                              tick=shown and shown.tick, workers=workers, require_isolation=require_isolation,
                              deadline_s=deadline_s, max_failures=max_failures, meta=meta, executor=runner,
                              cancellation=cancellation, building=shown and shown.building)
        finally:
            if shown:
                shown.close()
    record, outcomes = dict(result.record), result.outcomes
    isolation = record["provenance"].get("isolation")
    if isolation and isolation["missing"]:
        click.echo("warning: the sandbox ran without " + "; ".join(isolation["missing"]) +
                   " (recorded in the result; see docs/sandbox.md)", err=True)
    saved = None if no_save else save_record(record, out)
    if as_json:
        click.echo(results.dumps(record), nl=False)
    else:
        click.echo(summary_table(record, loaded.plugin.summary_columns()))
        failures = failures_table(outcomes)
        if failures:
            click.echo("\n" + failures)
        if saved:
            click.echo(f"\nresult record: {saved}")
        if example and not stop.received:
            click.echo(f"\nThat was the shipped example. Write your own: adrs-bench new {loaded.spec.name} mine.py, "
                       f"then adrs-bench run {loaded.spec.name} mine.py")
    if artifacts:
        write_artifacts(loaded, result, artifacts, as_json)
    if stop.received:
        finished = sum(1 for o in outcomes if not o.message.startswith("not run: "))
        where = f"the partial record: {saved}" if saved else "no record (--no-save)"
        click.echo(f"interrupted ({stop.name}): {finished} of {len(outcomes)} cases finished; {where}", err=True)
        sys.exit(EXIT_INTERRUPTED)
    if strict and record["aggregate"]["failed"]:
        sys.exit(1)


def save_record(record: dict, out: Path) -> Path:
    """Save the record in `out`; if that fails now (the folder went away mid-run), in the temporary
    folder instead, with a warning: the scores a run computed are never lost."""
    import tempfile

    from . import results

    name = results.default_filename(record)
    try:
        return results.save(record, out / name)
    except OSError as exc:
        fallback = results.save(record, Path(tempfile.gettempdir()) / name)
        click.echo(f"warning: could not write {out / name} ({exc.strerror or exc}); saved the record to {fallback}",
                   err=True)
        return fallback


def write_artifacts(loaded, result, directory: Path, quiet: bool) -> None:
    """The per-instance files after the record and the table are out: if these fail, nothing else is lost."""
    from .errors import OutputNotWritable

    try:
        written = loaded.plugin.write_artifacts(result.cases, result.outcomes, directory)
    except OSError as exc:
        raise OutputNotWritable(f"expected to write the artifacts to {directory}, got {exc.strerror or exc}; the "
                                "record is saved: free space or pass another --artifacts and re-run") from None
    if not quiet:
        click.echo("artifacts: " + ", ".join(str(p) for p in written))


@main.command("run-many")
@click.argument("task")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--set", "set_name", help=f"Instance set (default: the task's default_set), or {FRESH_PATTERN}.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("results"), show_default=True,
              help="Directory for the result records (one per candidate that ran).")
@click.option("--no-save", is_flag=True, help="Do not write the result records.")
@click.option("--workers", type=click.IntRange(1, 4096),
              help="Local: candidates scored at once (default 1). Ray: ignored (one task per candidate).")
@executor_options
@click.option("--deadline", "deadline_s", type=click.FloatRange(min=0, min_open=True),
              help="Stop each candidate after SECONDS (from its start); its cases not reached count as failed.")
@click.option("--max-failures", type=click.IntRange(min=1),
              help="Stop each candidate after N timeouts, crashes or memory kills.")
@click.option("--require-isolation", is_flag=True,
              help="Refuse to run unless every sandbox child has the full OS boundary (docs/sandbox.md).")
@click.option("--quiet", is_flag=True, help="No line per finished candidate on stderr.")
@one_line_errors
def run_many(task: str, files: tuple[Path, ...], set_name: str | None, out: Path, no_save: bool, workers: int | None,
             executor: str, address: str | None, deadline_s: float | None, max_failures: int | None,
             require_isolation: bool, quiet: bool) -> None:
    """Score every FILE (a generation of candidates) on an instance set: a line per finished candidate on
    stderr, a table of all of them at the end. A candidate that is refused, loops or crashes never stops
    the others; one that could not run at all is listed with its reason and has no record."""
    from tabulate import tabulate

    from .api import CandidateError, evaluate_many
    from .outputs import writable_folder
    from .registry import get_task

    loaded = get_task(task)
    if not no_save:
        writable_folder(out, "--out")
    runner = make_executor(executor, workers, address)
    started = time.monotonic()
    saved: dict[int, Path] = {}  # id(entry) -> its record, saved as each candidate finishes

    def show(done: int, total: int, entry) -> None:
        if not isinstance(entry, CandidateError) and not no_save:
            saved[id(entry)] = save_record(dict(entry.record), out)  # kept even if the generation is stopped
        if quiet:
            return
        if isinstance(entry, CandidateError):
            name, what = entry.label, f"not run ({entry.kind}): {entry.error}"
        else:
            name, what = entry.record["submission"]["label"], f"{entry.score:.4f} ({entry.ok} ok, {entry.failed} failed)"
        click.echo(f"[{done}/{total}] {time.monotonic() - started:.1f} s {name}: {what}", err=True)

    try:
        entries = evaluate_many(loaded, list(files), set_name, executor=runner, deadline_s=deadline_s,
                                max_failures=max_failures, progress=show, require_isolation=require_isolation)
    except KeyboardInterrupt:
        where = f"; their records are in {out}" if saved else ""
        click.echo(f"interrupted: {len(saved)} of {len(files)} candidates finished{where}", err=True)
        sys.exit(EXIT_INTERRUPTED)
    rows = []
    for file, entry in zip(files, entries):
        if isinstance(entry, CandidateError):
            rows.append((str(file), "-", "-", "-", f"not run ({entry.kind})"))
            continue
        rows.append((str(file), f"{entry.score:.4f}", entry.ok, entry.failed, str(saved.get(id(entry), ""))))
    click.echo(tabulate(rows, headers=("candidate", "score", "ok", "failed", "result record"), tablefmt="simple"))


@main.command()
@click.argument("framework", type=click.Choice(["openevolve", "shinka", "skydiscover"]))
@click.argument("task")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--deadline", "deadline_s", type=click.FloatRange(min=0, min_open=True),
              help="Seconds one evaluation may take (default: the task's total limit, at most 600).")
@one_line_errors
def export(framework: str, task: str, directory: Path, deadline_s: float | None) -> None:
    """Write FRAMEWORK's evaluator files for TASK into DIRECTORY (with a README saying what they do)."""
    from .export import export as write_files
    from .registry import get_task

    for path in write_files(framework, get_task(task), directory, deadline_s):
        click.echo(f"wrote {path}")


@main.group()
def instances() -> None:
    """Inspect and verify a task's frozen instance sets."""


@instances.command("verify")
@click.argument("task")
@click.option("--set", "set_names", multiple=True, help="Only these sets (repeatable; default: all).")
@one_line_errors
def instances_verify(task: str, set_names: tuple[str, ...]) -> None:
    """Regenerate TASK's instance files from their seeds and compare sha256 with the spec."""
    from .instances import verify_sets
    from .registry import get_task

    loaded = get_task(task)
    bad = 0
    for check in verify_sets(loaded, list(set_names) or list(loaded.spec.sets)):
        click.echo(f"{'ok ' if check.same else 'BAD'} {check.name:<8} {check.detail}")
        bad += not check.same
    if bad:
        click.echo(f"error: {bad} set(s) do not regenerate to their pinned sha256", err=True)
        sys.exit(1)


DEFAULT_OUT = {"md": Path("leaderboard/README.md"), "html": Path("leaderboard/index.html"),
               "json": Path("leaderboard/leaderboard.json")}


@main.command()
@click.option("--results", "results_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("leaderboard/results"), show_default=True, help="Directory of result records.")
@click.option("--format", "fmt", type=click.Choice(["md", "html", "json"]), default="md", show_default=True,
              help="Markdown, one self-contained HTML page, or JSON for other sites.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="The file to write, the only one written (default: leaderboard/README.md, index.html or "
                   "leaderboard.json by format).")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if OUT is stale.")
@one_line_errors
def leaderboard(results_dir: Path, fmt: str, out: Path | None, check: bool) -> None:
    """Render the leaderboard from result records."""
    from .leaderboard import render_all

    out = out or DEFAULT_OUT[fmt]
    stale = render_all(results_dir, out, check=check, fmt=fmt)
    if check and stale:
        click.echo(f"error: stale: {out}; run `adrs-bench leaderboard --format {fmt}` and commit", err=True)
        sys.exit(1)
    click.echo("up to date" if check else f"wrote {out} from {results_dir}")


@main.command()
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if a task's baselines/scores.json is stale.")
@one_line_errors
def baselines(check: bool) -> None:
    """Write each task's baselines/scores.json (what `show` prints) from the committed records in
    leaderboard/results/ of this repository; nothing else writes those files."""
    from .leaderboard import committed_results, write_baseline_scores

    source = committed_results()
    stale = write_baseline_scores(source, check=check)
    if check and stale:
        click.echo(f"error: stale: {', '.join(str(p) for p in stale)}; run `adrs-bench baselines` and commit", err=True)
        sys.exit(1)
    click.echo("up to date" if check else f"wrote {len(stale)} file(s) from {source}")


@main.command()
@click.argument("records", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--program", type=click.Path(path_type=Path),
              help="The submission to re-run (default: the path each record names); one record only.")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Sandboxed children per re-run (scores do not depend on it).")
@one_line_errors
def verify(records: tuple[Path, ...], program: Path | None, workers: int) -> None:
    """Re-run each RECORD's submission on the record's set and require bit-identical per-instance
    statuses and scores (after cheap checks: aggregate, set and evaluator sha256, program sha256).
    Prints one line per difference; exits 1 if any record does not verify."""
    from .errors import UsageError
    from .verify import verify as verify_record

    if program is not None and len(records) > 1:
        raise UsageError(f"expected one record with --program, got {len(records)}; verify them one by one")
    bad = 0
    for path in records:
        verdict = verify_record(path, program, workers)
        click.echo(f"{'ok ' if verdict.ok else 'BAD'} {path}" + ("" if verdict.rerun or verdict.ok else " (not re-run)"))
        for line in verdict.differences:
            click.echo(f"  {line}")
        bad += not verdict.ok
    if bad:
        click.echo(f"error: {bad} of {len(records)} record(s) do not verify", err=True)
        sys.exit(1)


@main.command()
@click.argument("records", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Directory for the plots.")
@one_line_errors
def compare(records: tuple[Path, ...], out: Path) -> None:
    """Plot several records of one task and set side by side (scores per case with intervals; for
    llm_routing also the latency CDFs overlaid)."""
    from .compare import compare as compare_records

    for path in compare_records(list(records), out):
        click.echo(f"wrote {path}")


@main.command()
@click.argument("new", type=click.Path(path_type=Path))
@click.option("--against", "old", required=True, type=click.Path(path_type=Path), help="The stored result to beat.")
@click.option("--tolerance", type=float, default=0.0, show_default=True,
              help="Allowed drop in score (absolute) before it counts as a regression.")
@one_line_errors
def gate(new: Path, old: Path, tolerance: float) -> None:
    """Exit 1 if NEW's score regresses against OLD, 0 otherwise, 2 if they are not comparable."""
    from .gate import compare

    verdict = compare(new, old, tolerance)
    click.echo(verdict.message)
    sys.exit(verdict.exit_code)


if __name__ == "__main__":  # pragma: no cover
    main()
