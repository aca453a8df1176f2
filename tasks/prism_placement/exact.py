"""Reference solutions for prism_placement: a heuristic upper bound and a proven optimum.

`solve` minimises the maximum KVPR exactly (or as far as a fixed, deterministic budget allows):
bisection on a target T, each step a MILP feasibility check on HiGHS (`scipy.optimize.milp`).
`best_known` only runs the heuristic (greedy + local search) for instances too large for the MILP.

Exactness
---------
Work in integer "key" units: with L the lcm of the instance's SLOs, model i has the integer weight
w_i = req_rate_i * L / slo_i, and a GPU with models of total weight W and free memory F = 80 - S
(an integer 1..80) has KVPR W / (L F); its key is W / F. Two distinct keys differ by at least
1 / (F1 F2) >= 1 / 6400, and two distinct keys below an incumbent with free memory F* differ from
it by at least 1 / (80 F*). A placement has all keys <= T iff every GPU satisfies the linear
constraint  sum_i (w_i + T s_i) x_ij <= 80 T  (T > 0 and w_i > 0, so the GPU is also not full).

The solver trusts HiGHS only in the safe direction. A "feasible" answer is never trusted: its
placement is re-scored with exact fractions (`max_kvpr_exact`) and only a real improvement counts.
An "infeasible" answer at T is taken as proof that no placement has all keys <= T; HiGHS's
tolerances (about 1e-6) only ever make it accept slightly violated points, never reject a
satisfied one. The optimality test is run at T = K* - 1 / (160 F*), halfway into the empty gap
below the incumbent key K*, so a strictly better placement would satisfy every row with slack at
least F (1 / (160 F*)) >= 1/12800 -- well above the tolerance -- while the incumbent itself violates
its row by at least as much. Only such a proof yields status "optimal"; anything else (node limit,
an untrustworthy "feasible") ends as "best_known" with the best proven lower bound.

Determinism: no time limits anywhere. MILPs are bounded by `node_limit` and the number of
bisection steps; HiGHS runs single-threaded with a fixed random seed. The heuristic makes every
decision on keys computed as one IEEE division of exact integers, which orders distinct rationals
correctly, and breaks ties by lowest index; its perturbations use a fixed-seed numpy Generator.

scipy is imported lazily inside the MILP function, so importing this module stays cheap.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from fractions import Fraction
from typing import Sequence

import numpy as np

from adrs_bench.tasks.prism_placement.kvpr import (
    GPU_MEMORY_GB,
    ModelSpec,
    fluid_lower_bound,
    max_kvpr_exact,
)

__all__ = ["Reference", "solve", "best_known", "heuristic_placement", "prism_greedy"]

DEFAULT_NODE_LIMIT = 20_000
DEFAULT_MAX_STEPS = 60
DEFAULT_KICKS = 200


@dataclass(frozen=True)
class Reference:
    """The reference answer stored with an instance."""

    status: str  # "optimal" | "best_known"
    value: Fraction  # exact max KVPR of `placement`
    lower_bound: Fraction  # proven: no placement has a smaller max KVPR
    placement: tuple[int, ...]  # GPU of each model, in the instance's model order
    method: str  # "milp-bisection" | "local-search"


# --------------------------------------------------------------------------------------------
# Integer representation
# --------------------------------------------------------------------------------------------

class _Instance:
    """Models as integer arrays: weight w (KVPR numerator times L) and size s."""

    def __init__(self, gpu_num: int, models: Sequence[ModelSpec]):
        if gpu_num <= 0:
            raise ValueError("gpu_num must be positive")
        self.gpu_num = gpu_num
        self.models = list(models)
        lcm = 1
        for m in self.models:
            if m.slo <= 0 or m.req_rate <= 0 or m.model_size < 0:
                raise ValueError(f"invalid model {m}")
            lcm = lcm * m.slo // math.gcd(lcm, m.slo)
        self.lcm = lcm
        self.w = np.array([m.req_rate * (lcm // m.slo) for m in self.models], dtype=np.int64)
        self.s = np.array([m.model_size for m in self.models], dtype=np.int64)
        self.n = len(self.models)

    def loads(self, assign: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-GPU total weight W and free memory F."""
        W = np.zeros(self.gpu_num, dtype=np.int64)
        S = np.zeros(self.gpu_num, dtype=np.int64)
        np.add.at(W, assign, self.w)
        np.add.at(S, assign, self.s)
        return W, GPU_MEMORY_GB - S

    def exact(self, assign: Sequence[int]) -> Fraction | None:
        return max_kvpr_exact(self.gpu_num, self.models, [int(g) for g in assign])


def _keys(W: np.ndarray, F: np.ndarray) -> np.ndarray:
    """W / F as floats (order-exact for these integers), inf where the GPU is full."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(F > 0, W / np.where(F > 0, F, 1), np.inf)


def _key_fraction(W: int, F: int) -> Fraction:
    return Fraction(int(W), int(F))


# --------------------------------------------------------------------------------------------
# Heuristic: greedy starts + bottleneck local search + deterministic perturbation
# --------------------------------------------------------------------------------------------

def _greedy(inst: _Instance, order: np.ndarray, resulting: bool) -> np.ndarray | None:
    """Place models in `order`; each goes to the GPU with the lowest key (resulting key if
    `resulting`, else current key) among GPUs where it leaves free memory. None if stuck."""
    G = inst.gpu_num
    W = np.zeros(G, dtype=np.int64)
    F = np.full(G, GPU_MEMORY_GB, dtype=np.int64)
    assign = np.full(inst.n, -1, dtype=np.int64)
    for i in order:
        wi, si = inst.w[i], inst.s[i]
        fits = F - si > 0
        if not fits.any():
            return None
        if resulting:
            cand = _keys(W + wi, F - si)
        else:
            cand = _keys(W, F)
        cand = np.where(fits, cand, np.inf)
        g = int(np.argmin(cand))
        assign[i] = g
        W[g] += wi
        F[g] -= si
    return assign


def prism_greedy(gpu_num: int, models: Sequence[ModelSpec]) -> tuple[int, ...] | None:
    """Prism's initial greedy: models by req_rate/slo descending (stable); each to the GPU with
    the lowest current KVPR among GPUs with room for it (first on ties)."""
    inst = _Instance(gpu_num, models)
    order = np.argsort(-inst.w, kind="stable")
    assign = _greedy(inst, order, resulting=False)
    return None if assign is None else tuple(int(g) for g in assign)


def _local_search(inst: _Instance, assign: np.ndarray) -> np.ndarray:
    """Repeatedly take the GPU with the highest key and apply the move or swap of one of its
    models that most lowers the larger of the two keys it changes; stop when none lowers the
    bottleneck. Every accepted step lowers the sorted key vector lexicographically."""
    assign = assign.copy()
    W, F = inst.loads(assign)
    w, s = inst.w, inst.s
    idx = np.arange(inst.n)
    while True:
        keys = _keys(W, F)
        g = int(np.argmax(keys))
        best = keys[g]
        move = None  # ("move", i, h) or ("swap", i, k)
        on_g = idx[assign == g]
        others = idx[assign != g]
        hk = assign[others]
        for i in on_g:
            wg = W[g] - w[i]
            fg = F[g] + s[i]
            kg = wg / fg
            if not kg < best:
                continue
            # move i to another GPU h
            kh = _keys(W + w[i], F - s[i])
            kh[g] = np.inf
            cost = np.maximum(kh, kg)
            h = int(np.argmin(cost))
            if cost[h] < best:
                best = cost[h]
                move = ("move", int(i), h)
            # swap i with a model k on another GPU
            if others.size:
                fg2 = fg - s[others]
                fh2 = F[hk] + s[others] - s[i]
                cost = np.maximum(_keys(wg + w[others], fg2), _keys(W[hk] - w[others] + w[i], fh2))
                j = int(np.argmin(cost))
                if cost[j] < best:
                    best = cost[j]
                    move = ("swap", int(i), int(others[j]))
        if move is None:
            return assign
        kind, i, t = move
        if kind == "move":
            h = t
            W[g] -= w[i]; F[g] += s[i]
            W[h] += w[i]; F[h] -= s[i]
            assign[i] = h
        else:
            k = t
            h = int(assign[k])
            W[g] += w[k] - w[i]; F[g] += s[i] - s[k]
            W[h] += w[i] - w[k]; F[h] += s[k] - s[i]
            assign[i], assign[k] = h, g


def _max_key(inst: _Instance, assign: np.ndarray) -> tuple[float, int, int]:
    """(max key, W, F) of the bottleneck GPU."""
    W, F = inst.loads(assign)
    keys = _keys(W, F)
    g = int(np.argmax(keys))
    return float(keys[g]), int(W[g]), int(F[g])


def _perturb(inst: _Instance, assign: np.ndarray, rng: np.random.Generator, strength: int) -> np.ndarray:
    """Move `strength` random models (one from the bottleneck GPU) to random GPUs with room."""
    assign = assign.copy()
    W, F = inst.loads(assign)
    keys = _keys(W, F)
    g = int(np.argmax(keys))
    on_g = np.flatnonzero(assign == g)
    picks = [int(on_g[rng.integers(on_g.size)])] if on_g.size else []
    picks += [int(p) for p in rng.integers(inst.n, size=max(0, strength - 1))]
    for i in picks:
        src = int(assign[i])
        room = np.flatnonzero(F - inst.s[i] > 0)
        room = room[room != src]
        if room.size == 0:
            continue
        h = int(room[rng.integers(room.size)])
        W[src] -= inst.w[i]; F[src] += inst.s[i]
        W[h] += inst.w[i]; F[h] -= inst.s[i]
        assign[i] = h
    return assign


def _heuristic(inst: _Instance, initial: Sequence[int] | None, kicks: int, seed: int) -> np.ndarray | None:
    starts = []
    if initial is not None:
        starts.append(np.asarray(initial, dtype=np.int64))
    by_weight = np.argsort(-inst.w, kind="stable")
    by_size = np.argsort(-inst.s, kind="stable")
    with np.errstate(divide="ignore"):
        by_density = np.lexsort((np.arange(inst.n), -inst.w / np.maximum(GPU_MEMORY_GB - inst.s, 1)))
    for order, resulting in ((by_weight, True), (by_weight, False), (by_size, True), (by_density, True)):
        a = _greedy(inst, order, resulting)
        if a is not None:
            starts.append(a)
    best, best_key = None, math.inf
    for a in starts:
        if not math.isfinite(_max_key(inst, a)[0]):
            continue
        a = _local_search(inst, a)
        k = _max_key(inst, a)[0]
        if k < best_key:
            best, best_key = a, k
    if best is None:
        return None
    rng = np.random.default_rng(seed)
    cur, cur_key = best, best_key
    for t in range(kicks):
        cand = _local_search(inst, _perturb(inst, cur, rng, 2 + t % 3))
        k = _max_key(inst, cand)[0]
        if k < best_key:
            best, best_key = cand, k
        if k <= cur_key:
            cur, cur_key = cand, k
        elif t % 20 == 19:  # restart from the best now and then
            cur, cur_key = best, best_key
    return best


def heuristic_placement(
    gpu_num: int, models: Sequence[ModelSpec], *, initial: Sequence[int] | None = None,
    kicks: int = DEFAULT_KICKS, seed: int = 0,
) -> tuple[int, ...] | None:
    """A good feasible placement (greedy starts, local search, `kicks` perturbations), or None."""
    inst = _Instance(gpu_num, models)
    a = _heuristic(inst, initial, kicks, seed)
    return None if a is None else tuple(int(g) for g in a)


def best_known(
    gpu_num: int, models: Sequence[ModelSpec], *, initial: Sequence[int] | None = None,
    kicks: int = DEFAULT_KICKS, seed: int = 0,
) -> Reference:
    """Heuristic reference (no MILP): status "best_known" unless the fluid bound is reached."""
    inst = _Instance(gpu_num, models)
    a = _heuristic(inst, initial, kicks, seed)
    if a is None:
        raise ValueError("no feasible placement found")
    value = inst.exact(a)
    lb = min(fluid_lower_bound(gpu_num, models), value)
    status = "optimal" if lb == value else "best_known"
    return Reference(status, value, lb, tuple(int(g) for g in a), "local-search")


# --------------------------------------------------------------------------------------------
# MILP feasibility check
# --------------------------------------------------------------------------------------------

class _Feasibility:
    """x_ij binary; model i (sorted by size, then weight, descending) may only use GPUs 0..i
    (any placement can be relabelled so, as GPUs are identical); each model on one GPU;
    sum_i (w_i + T s_i) x_ij <= 80 T and sum_i s_i x_ij <= 79 for every GPU j."""

    def __init__(self, inst: _Instance, node_limit: int):
        from scipy.sparse import csc_array

        self.inst = inst
        self.node_limit = node_limit
        G, n = inst.gpu_num, inst.n
        self.order = np.lexsort((np.arange(n), -inst.w, -inst.s))  # biggest first
        cols_i, cols_j = [], []
        for rank, i in enumerate(self.order):
            for j in range(min(rank, G - 1) + 1):
                cols_i.append(int(i)); cols_j.append(j)
        self.ci = np.array(cols_i, dtype=np.int64)
        self.cj = np.array(cols_j, dtype=np.int64)
        nv = self.ci.size
        self.nv = nv
        self.used = int(self.cj.max()) + 1 if nv else 0  # GPUs that can hold anything
        col = np.arange(nv)
        # rows: n assignment rows, then `used` capacity rows, then `used` size rows
        rows = np.concatenate([self.ci, n + self.cj, n + self.used + self.cj])
        cols = np.concatenate([col, col, col])
        self._rows, self._cols = rows, cols
        self._csc = csc_array

    def check(self, T: float) -> tuple[str, np.ndarray | None]:
        """("feasible", assignment) | ("infeasible", None) | ("unknown", None)."""
        from scipy.optimize import Bounds, LinearConstraint, milp

        inst, n, U = self.inst, self.inst.n, self.used
        cap = inst.w[self.ci].astype(np.float64) + T * inst.s[self.ci].astype(np.float64)
        data = np.concatenate([np.ones(self.nv), cap, inst.s[self.ci].astype(np.float64)])
        A = self._csc((data, (self._rows, self._cols)), shape=(n + 2 * U, self.nv))
        lo = np.concatenate([np.ones(n), np.full(2 * U, -np.inf)])
        hi = np.concatenate([np.ones(n), np.full(U, GPU_MEMORY_GB * T), np.full(U, GPU_MEMORY_GB - 1.0)])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # options passed to HiGHS verbatim
            res = milp(
                np.zeros(self.nv),
                integrality=np.ones(self.nv),
                bounds=Bounds(0, 1),
                constraints=LinearConstraint(A, lo, hi),
                options={"node_limit": self.node_limit, "presolve": True, "threads": 1,
                         "random_seed": 0, "disp": False},
            )
        if res.x is not None and res.status in (0, 1):
            x = res.x
            assign = np.full(n, -1, dtype=np.int64)
            best = np.full(n, -1.0)
            for v in range(self.nv):
                i = self.ci[v]
                if x[v] > best[i]:
                    best[i] = x[v]
                    assign[i] = self.cj[v]
            return "feasible", assign
        if res.status == 2:
            return "infeasible", None
        return "unknown", None


# --------------------------------------------------------------------------------------------
# Exact solver
# --------------------------------------------------------------------------------------------

def solve(
    gpu_num: int, models: Sequence[ModelSpec], node_limit: int = DEFAULT_NODE_LIMIT, *,
    initial: Sequence[int] | None = None, max_steps: int = DEFAULT_MAX_STEPS,
    kicks: int = DEFAULT_KICKS, seed: int = 0,
) -> Reference:
    """Minimise the maximum KVPR: heuristic upper bound, fluid lower bound, then bisection with
    MILP feasibility checks. Deterministic (node and step budgets only, no time limits)."""
    inst = _Instance(gpu_num, models)
    assign = _heuristic(inst, initial, kicks, seed)
    if assign is None:
        raise ValueError("no feasible placement found by the heuristic; pass `initial`")
    L = inst.lcm
    lb_key = fluid_lower_bound(gpu_num, models) * L  # proven: every placement has max key >= lb_key
    _, Wb, Fb = _max_key(inst, assign)
    ub_key = _key_fraction(Wb, Fb)

    def result(status: str) -> Reference:
        value = inst.exact(assign)
        assert value is not None and value * L == ub_key
        lower = value if status == "optimal" else min(lb_key / L, value)
        return Reference(status, value, lower, tuple(int(g) for g in assign), "milp-bisection")

    def proven() -> bool:
        # Every key below ub_key = W/Fb is at most ub_key - 1/(80 Fb) (keys are W'/F', F' <= 80).
        return lb_key >= ub_key - Fraction(1, GPU_MEMORY_GB * Fb)

    if proven():
        return result("optimal")
    check = _Feasibility(inst, node_limit)
    for _ in range(max_steps):
        # Test point: halfway into the empty gap below the incumbent (the proof of optimality),
        # or the bisection midpoint when that is lower.
        proof_T = ub_key - Fraction(1, 2 * GPU_MEMORY_GB * Fb)
        T = min((lb_key + ub_key) / 2, proof_T)
        Tf = float(T)
        status, cand = check.check(Tf)
        if status == "infeasible":
            # No placement has every key <= Tf (the exact value of the float HiGHS saw).
            lb_key = max(lb_key, Fraction(Tf))
            if proven():
                return result("optimal")
            continue
        if status == "unknown":
            break
        if math.isfinite(_max_key(inst, cand)[0]):
            cand = _local_search(inst, cand)
        key, W, F = _max_key(inst, cand)
        new_key = _key_fraction(W, F) if math.isfinite(key) else None
        if new_key is None or new_key >= ub_key:
            break  # HiGHS accepted a point we cannot confirm: stop, keep what is proven
        assign, ub_key, Fb = cand, new_key, F
    return result("best_known")
