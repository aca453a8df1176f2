"""adrs-bench: a scorer and leaderboard for AI-written systems algorithms.

    from adrs_bench import evaluate
    result = evaluate("prism_placement", "mine.py", "dev", deadline_s=120)
    result.score, result.feedback()

Import-light on purpose: `adrs-bench --help` must not pay for numpy, pandas or scipy, so the library's
entry points (`evaluate`, `evaluate_many`, `merge`, `Result`) are loaded on first use.
"""
__version__ = "0.1.0"

__all__ = ["evaluate", "evaluate_many", "merge", "Result", "CandidateError", "__version__"]


def __getattr__(name: str):
    if name in ("evaluate", "evaluate_many", "merge", "Result", "CandidateError"):
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'adrs_bench' has no attribute {name!r}")
