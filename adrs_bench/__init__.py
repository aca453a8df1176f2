"""adrs-bench: a scorer and leaderboard for AI-written systems algorithms.

Import-light on purpose: `adrs-bench --help` must not pay for numpy, pandas or scipy.
"""
__version__ = "0.1.0"
