"""Every error the harness reports to a user is one of these: one line saying what was expected,
what was got, and what to do. The CLI prints `error: <message>` and exits with `exit_code`.

The exit statuses, one place (the CLI's --help and docs/cli.md say the same): a script can tell "the
program is bad" (1) from "you called me wrong" (2)."""
from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1  # the submission was refused, or failed cases with --strict, or a gate regressed, or a check failed
EXIT_USAGE = 2  # usage or configuration: an unknown task or set, a missing file, unreadable records, a bad option
EXIT_INTERNAL = 3  # a bug in adrs-bench: one line plus a saved traceback file
EXIT_INTERRUPTED = 130  # Ctrl-C or SIGTERM: the finished cases are saved in a record marked interrupted

EXIT_CODES_HELP = ("Exit status: 0 ok; 1 the submission was refused, failed cases with --strict, a gate regressed "
                   "or a check failed; 2 usage or configuration error; 3 internal error (a traceback file is saved); "
                   "130 interrupted (Ctrl-C or SIGTERM).")


class AdrsError(Exception):
    """Base of all user-facing errors."""

    exit_code = EXIT_USAGE


class TaskNotFound(AdrsError):
    pass


class TaskPathNotFound(AdrsError):
    """An entry of ADRS_BENCH_TASK_PATH (task_path.py) is not an existing directory: a typo would otherwise
    leave the tasks it should add silently missing."""


class TaskNameClash(AdrsError):
    """A task folder found through ADRS_BENCH_TASK_PATH has the name of a built-in task or of one found
    earlier: `adrs_bench.tasks.<name>` must be one task, never whichever folder the import reaches first."""


class SpecError(AdrsError):
    """A task's spec.json does not match the spec schema."""


class PluginContractError(SpecError):
    """A task's plugin does not keep the contract of the protocol its spec names (task_api.py): a method
    missing, a status its spec does not declare. A bug in the task, not in the user's call."""


class EvaluatorFilesMissing(SpecError):
    """A glob of a spec's `evaluator_files` matches no file, so the evaluator sha256 would silently pin
    less than the spec says."""


class InstanceSetNotFound(AdrsError):
    pass


class InstanceHashMismatch(AdrsError):
    """An instance file differs from the sha256 its spec pins (corrupted or hand-edited)."""


class InstanceCountMismatch(AdrsError):
    """An instance file holds another number of cases than its spec says."""


class SubmissionNotFound(AdrsError):
    pass


class InvalidSubmission(AdrsError):
    """The submission fails the static check (syntax, policy, imports, entry point): the program is bad."""

    exit_code = EXIT_FAILED


class ResultFileError(AdrsError):
    """A result record cannot be read or does not match the result schema."""


class SchemaVersionError(ResultFileError):
    """A result record comes from a schema this harness cannot read (newer) or migrate."""


class NonFiniteNumber(ResultFileError):
    """A result record holds NaN or infinity; adrs-bench never writes one, so the file was edited."""


class AggregateMismatch(ResultFileError):
    """A record's aggregate is not what its per-instance records give (edited or corrupted)."""


class NotComparable(AdrsError):
    """Two results cannot be compared (other task version, instance set or evaluator)."""


class UsageError(AdrsError):
    pass


class OutputNotWritable(UsageError):
    """An output folder (--out, --artifacts) cannot be written: refused before the first case runs."""


class IsolationUnavailable(AdrsError):
    """--require-isolation was given and a sandbox child lacked part of the OS boundary."""


class SandboxUnavailable(AdrsError):
    """The fork server could not make a sandboxed child: the machine's fault, not the submission's."""


class MissingExtra(UsageError):
    """An optional feature's package is not installed (e.g. ray for --executor ray)."""


class StarterTemplateError(SpecError):
    """A task's example has no single `Try it:` line in its docstring for `adrs-bench new` to rewrite
    (a bug in the task, not the user's)."""
