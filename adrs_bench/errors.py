"""Every error the harness reports to a user is one of these: one line saying what was expected,
what was got, and what to do. The CLI prints `error: <message>` and exits with `exit_code`."""
from __future__ import annotations


class AdrsError(Exception):
    """Base of all user-facing errors."""

    exit_code = 2


class TaskNotFound(AdrsError):
    pass


class SpecError(AdrsError):
    """A task's spec.json does not match the spec schema."""


class InstanceSetNotFound(AdrsError):
    pass


class InstanceHashMismatch(AdrsError):
    """An instance file differs from the sha256 its spec pins (corrupted or hand-edited)."""


class SubmissionNotFound(AdrsError):
    pass


class InvalidSubmission(AdrsError):
    """The submission fails the static check (syntax, policy, imports, entry point)."""


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

    exit_code = 2


class UsageError(AdrsError):
    pass


class IsolationUnavailable(AdrsError):
    """--require-isolation was given and a sandbox child lacked part of the OS boundary."""


class SandboxUnavailable(AdrsError):
    """The fork server could not make a sandboxed child: the machine's fault, not the submission's."""


class MissingExtra(UsageError):
    """An optional feature's package is not installed (e.g. ray for --executor ray)."""


class StarterTemplateError(SpecError):
    """A task's example has no single `Try it:` line in its docstring for `adrs-bench new` to rewrite
    (a bug in the task, not the user's)."""
