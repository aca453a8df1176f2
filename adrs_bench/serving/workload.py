"""The request-length model both serving tasks draw from: Glia's ShareGPT workload, reduced to its outputs.

Why here: llm_routing's and autoscaling's generators share it, and neither task should reach into the
other. Prompt and decode lengths are ShareGPT V3 first turns as Glia's trace generator prepares them
(Llama-3 tokenizer, turns <= 4096 tokens, a 42-token system prompt added to each prompt, 5% of prompts
and, independently, 5% of decodes inflated; Glia §5.1), given as the empirical quantiles of the
resulting trace (the llm_routing issue; DESIGN.md §5). Sampling them directly keeps the dataset out of
the repository.

  lengths  inverse CDF of each quantile table, linear in log(length) between quantiles, rounded to the
           nearest int (>= 1); prompt and decode joined by a Gaussian copula (rho 0.12).

Changing a table or the sampling changes every stored trace of both tasks, and so both task versions.
"""
from __future__ import annotations

import math

import numpy as np

QUANTILE_PERCENTS = (0, 2.5, 5, 7.5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 75, 80,
                     85, 90, 92.5, 95, 96, 97, 97.5, 98, 98.5, 99, 99.5, 99.9, 100)
# Mean 295, median 76, p90 834, p99 3195 (ShareGPT V3 first turns + system prompt, Glia).
PROMPT_QUANTILES = (43, 45, 47, 49, 50, 52, 54, 56, 58, 61, 64, 69, 76, 87, 105, 125, 157, 212,
                    307, 466, 834, 1070, 1392, 1603, 1897, 2109, 2395, 2845, 3195, 3709, 3992,
                    4134)
# Mean 362, median 243, p90 628, p99 3929; the jump after p96 is the 5% of decodes x 10.
DECODE_QUANTILES = (1, 9, 18, 26, 35, 63, 91, 118, 144, 172, 197, 219, 243, 271, 296, 321, 356,
                    394, 443, 508, 628, 729, 769, 792, 1860, 2234, 2646, 3104, 3929, 4096, 4096,
                    4096)
COPULA_RHO = 0.12

_P = np.asarray(QUANTILE_PERCENTS, dtype=float) / 100.0
_LOG_PROMPT = np.log(np.asarray(PROMPT_QUANTILES, dtype=float))
_LOG_DECODE = np.log(np.asarray(DECODE_QUANTILES, dtype=float))


def inverse_cdf(u: np.ndarray, log_quantiles: np.ndarray) -> np.ndarray:
    """Lengths at probabilities u: log-linear between the table's quantiles, rounded, >= 1."""
    values = np.rint(np.exp(np.interp(u, _P, log_quantiles))).astype(np.int64)
    return np.maximum(values, 1)


def sample_lengths(rng: np.random.Generator, n: int,
                   rho: float = COPULA_RHO) -> tuple[np.ndarray, np.ndarray]:
    """n (prompt, decode) pairs: each marginal from its table, joined by a Gaussian copula."""
    z = rng.standard_normal((n, 2))
    z1 = z[:, 0]
    z2 = rho * z1 + math.sqrt(1.0 - rho * rho) * z[:, 1]
    from scipy.special import ndtr  # here, not at the top: loading a task must not pay for scipy

    return inverse_cdf(ndtr(z1), _LOG_PROMPT), inverse_cdf(ndtr(z2), _LOG_DECODE)
