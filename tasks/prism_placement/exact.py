"""Reference solutions for prism_placement: a heuristic upper bound and a proven optimum.

`solve` minimises the maximum KVPR exactly (or as far as a fixed, deterministic budget allows):
a heuristic placement (greedy starts + local search) gives the incumbent, `fluid_lower_bound`
the first lower bound, then a bisection on a target T runs MILP feasibility checks on HiGHS
(`scipy.optimize.milp`). `best_known` runs only the heuristic, for instances too large for that.

Keys and the stopping rule
--------------------------
Work in integer "key" units: with L the lcm of the instance's SLOs, model i has the integer weight
w_i = req_rate_i * L / slo_i, and a GPU with models of total weight W and free memory F = 80 - S
(an integer 1..80) has KVPR W / (L F); its key is W / F. A key below an incumbent key K* = W*/F*
is at most K* - 1 / (80 F*) (W F* - W* F' >= 1 with F' <= 80). So once no placement has every key
<= K* - 1 / (80 F*), the incumbent is optimal; the proof is attempted at T = K* - 1 / (160 F*),
halfway into that empty gap. As IEEE division of integers is correctly rounded and distinct keys
differ by at least 1 / 6400, floats of keys order them exactly; decisions use them.

The feasibility check at T
--------------------------
Feasible sets of models (key <= T) are closed under removal, so a placement with every key <= T
exists iff at most G maximal feasible sets cover all models. `_SetPool` enumerates the sets
(vectorised, once per instance); `_SetCover` decides the cover: column generation solves its LP
relaxation, whose duals, checked and scaled by us to be dual feasible, either prove
infeasibility (bound > G) or fix most sets to zero by reduced cost; HiGHS then solves a 0/1
covering MILP with integer right-hand sides. Set feasibility itself is decided here, so HiGHS's
tolerances never touch the KVPR arithmetic, and the float test fl(W/F) <= T can only admit a set
whose exact key is an ulp above T, never drop one: "infeasible" stays a proof. The bisection
picks T among the keys of the enumerated sets (the only values the optimum can take). Where the
set family is too large, a node-limited assignment MILP (x_ij, capacity rows
sum_i (w_i + T s_i) x_ij <= 80 T, symmetry broken) is tried once at the proof point; there an
optimal claim needs infeasibility at T, and a better placement would satisfy its rows with slack
F (K* - T) >= 1/12800, far above HiGHS's ~1e-6 tolerance.

A "feasible" answer is never trusted: its placement is re-scored with exact fractions
(`max_kvpr_exact`) and only a real improvement counts. Only a proof yields "optimal"; anything
else ends as "best_known" with the best proven lower bound.

Determinism: no time limits anywhere. MILPs are bounded by node limits, the search by a step
budget; HiGHS runs single-threaded with a fixed random seed. The heuristic breaks ties by lowest
index and its perturbations use a fixed-seed numpy Generator.

scipy is imported lazily inside the check functions, so importing this module stays cheap.
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

__all__ = ["Reference", "solve", "best_known", "heuristic_placement", "greedy_placement", "prism_greedy"]

DEFAULT_NODE_LIMIT = 20_000
DEFAULT_MAX_STEPS = 60
DEFAULT_KICKS = 200
DEFAULT_SOLVE_KICKS = 0
DEFAULT_SET_CAP = 4_000_000  # feasible sets enumerated per check
DEFAULT_COLUMN_CAP = 1_500_000  # maximal sets (MILP columns) per check
DEFAULT_FALLBACK_NODE_LIMIT = 1_000  # assignment MILP, when the set cover is too large
DEFAULT_POLISH_KICKS = 100  # extra local-search kicks for an unproven incumbent
DESCEND_STEPS = 1
CG_MAX_ROUNDS = 300  # column-generation rounds per check
CG_BATCH = 100  # sets added per round
CERT_EPS = 1e-7  # slack on float sums of at most n duals of size <= 1
SMALL_NODE_LIMIT = 200
SLACK = 1.0  # LP bound this far below G: skip the full MILP while bisecting
KEEP_CAP = 20_000  # or more sets than this left after reduced-cost fixing
MAX_TOO_BIG = 4  # set families over the caps before giving up on the set cover


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


def _best_step(inst: _Instance, assign: np.ndarray, W: np.ndarray, F: np.ndarray, g: int, bound: float):
    """The move or swap of a model of GPU g that most lowers max(key g, key of the partner GPU)
    below `bound`, as ("move", i, h) / ("swap", i, k), or None."""
    w, s = inst.w, inst.s
    on_g = np.flatnonzero(assign == g)
    others = np.flatnonzero(assign != g)
    hk = assign[others]
    best, step = bound, None
    for i in on_g:
        wg = W[g] - w[i]
        fg = F[g] + s[i]
        kg = wg / fg
        if not kg < best:
            continue  # a swap only adds to g what a move leaves
        kh = _keys(W + w[i], F - s[i])
        kh[g] = np.inf
        cost = np.maximum(kh, kg)
        h = int(np.argmin(cost))
        if cost[h] < best:
            best, step = cost[h], ("move", int(i), h)
        if others.size:
            cost = np.maximum(_keys(wg + w[others], fg - s[others]),
                              _keys(W[hk] - w[others] + w[i], F[hk] + s[others] - s[i]))
            j = int(np.argmin(cost))
            if cost[j] < best:
                best, step = cost[j], ("swap", int(i), int(others[j]))
    return step


def _local_search(inst: _Instance, assign: np.ndarray) -> np.ndarray:
    """Lexicographic local search. Take the GPU with the highest key among those not yet found
    stuck; if one of its models has a move or swap lowering the larger of the two keys it
    changes below the GPU's own key, apply the best such step (the two GPUs become unstuck),
    else mark it stuck. When every GPU is stuck, check them all once more from scratch; stop when
    such a pass applies no step. Each step lowers the sorted key vector lexicographically, so the
    search ends, in a placement no single move or swap improves that way."""
    assign = assign.copy()
    W, F = inst.loads(assign)
    w, s = inst.w, inst.s
    keys = _keys(W, F)
    stuck = keys <= 0  # an empty GPU has nothing to improve
    moved = False
    while True:
        masked = np.where(stuck, -1.0, keys)
        g = int(np.argmax(masked))
        if masked[g] < 0:
            if not moved:
                return assign
            stuck, moved = keys <= 0, False
            continue
        step = _best_step(inst, assign, W, F, g, keys[g])
        if step is None:
            stuck[g] = True
            continue
        moved = True
        kind, i, t = step
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
        for x in (g, h):
            keys[x] = W[x] / F[x]
            stuck[x] = not keys[x] > 0


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


def _greedy_starts(inst: _Instance, first_only: bool = False) -> list[np.ndarray]:
    """Greedy placements from four orders (weight, weight with Prism's rule, size, density)."""
    starts = []
    by_weight = np.argsort(-inst.w, kind="stable")
    by_size = np.argsort(-inst.s, kind="stable")
    by_density = np.lexsort((np.arange(inst.n), -inst.w / np.maximum(GPU_MEMORY_GB - inst.s, 1)))
    for order, resulting in ((by_weight, True), (by_weight, False), (by_size, True), (by_density, True)):
        a = _greedy(inst, order, resulting)
        if a is not None:
            starts.append(a)
            if first_only:
                break
    return starts


def greedy_placement(gpu_num: int, models: Sequence[ModelSpec]) -> tuple[int, ...] | None:
    """The first feasible greedy placement (no local search; cheap), or None."""
    starts = _greedy_starts(_Instance(gpu_num, models), first_only=True)
    return tuple(int(g) for g in starts[0]) if starts else None


def _heuristic(inst: _Instance, initial: Sequence[int] | None, kicks: int, seed: int) -> np.ndarray | None:
    starts = []
    if initial is not None:
        starts.append(np.asarray(initial, dtype=np.int64))
    starts += _greedy_starts(inst)
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
        res = _run_milp(milp, np.zeros(self.nv), A, lo, hi, Bounds(0, 1), LinearConstraint, self.node_limit)
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


class _TooMany(Exception):
    pass


class _SetPool:
    """Every set of models whose key fl(W/F) is at most T0 (T in key units), enumerated once,
    with its key and the lowest key of a one-model extension; the maximal sets at any T <= T0
    are then those with key <= T < that extension key.

    Rounding is monotonic, so fl(W/F) <= T holds for every set whose exact key is <= T: a
    family may contain a set whose exact key exceeds T by less than an ulp, never miss one.
    Feasible sets are closed under removal (fewer models: smaller W, larger F; every subset is
    reached through feasible prefixes), so a placement with every key <= T exists iff at most G
    maximal sets cover all models. The pool's keys are also every value that a placement's
    maximum key at most T0 can take. Raises _TooMany past `cap` sets."""

    def __init__(self, inst: _Instance, T0: float, cap: int):
        w, s, n = inst.w, inst.s, inst.n
        self.T0 = T0
        parts, keys, ext = [], [], []
        sets = np.arange(n, dtype=np.int64)[:, None]
        W, S = w.copy(), s.copy()
        ok = _keys(W, GPU_MEMORY_GB - S) <= T0
        sets, W, S = sets[ok], W[ok], S[ok]
        total = sets.shape[0]
        chunk = max(1, 4_000_000 // max(n, 1))
        cols = np.arange(n)
        while sets.shape[0]:
            parts.append(sets.astype(np.int16))
            keys.append(_keys(W, GPU_MEMORY_GB - S))
            nxt_sets, nxt_W, nxt_S, mins = [], [], [], []
            for lo in range(0, sets.shape[0], chunk):
                st, Wc, Sc = sets[lo:lo + chunk], W[lo:lo + chunk], S[lo:lo + chunk]
                grown = _keys(Wc[:, None] + w[None, :], GPU_MEMORY_GB - Sc[:, None] - s[None, :])
                grown[np.arange(st.shape[0])[:, None], st] = np.inf  # a model already in the set
                mins.append(grown.min(axis=1))
                r, j = np.nonzero((grown <= T0) & (cols[None, :] > st[:, -1:]))
                if r.size:
                    total += r.size
                    if total > cap:
                        raise _TooMany
                    nxt_sets.append(np.concatenate([st[r], j[:, None]], axis=1))
                    nxt_W.append(Wc[r] + w[j])
                    nxt_S.append(Sc[r] + s[j])
            ext.append(np.concatenate(mins))
            if not nxt_sets:
                break
            sets = np.concatenate(nxt_sets)
            W, S = np.concatenate(nxt_W), np.concatenate(nxt_S)
        width = max((p.shape[1] for p in parts), default=1)
        self.members = (np.concatenate([np.pad(p, ((0, 0), (0, width - p.shape[1])), constant_values=-1)
                                        for p in parts]) if parts else np.zeros((0, 1), np.int16))
        self.lens = (np.concatenate([np.full(p.shape[0], p.shape[1], dtype=np.int64) for p in parts])
                     if parts else np.zeros(0, np.int64))
        self.keys = np.concatenate(keys) if keys else np.zeros(0)
        self.ext = np.concatenate(ext) if ext else np.zeros(0)
        self.candidates = np.unique(self.keys)
        self.single_keys = _keys(w, GPU_MEMORY_GB - s)

    def maximal(self, T: float) -> np.ndarray | None:
        """Indices of the maximal sets at T <= T0; None if some model alone exceeds T."""
        if not (self.single_keys <= T).all():
            return None
        return np.flatnonzero((self.keys <= T) & (self.ext > T))


class _SetCover:
    """Decision at T as a set cover over the maximal feasible sets: y_c binary, every model
    covered at least once, sum y_c <= G. Set feasibility is decided here, exactly (see
    `_SetPool`); the cover has 0/1 coefficients and integer right-hand sides.

    Each check first solves the LP relaxation min sum y by column generation over the
    enumerated sets and turns its duals into a verified dual-feasible vector pi (scaled so that
    no set's dual load exceeds 1). Then every cover has sum y >= sum pi, so sum pi > G proves
    infeasibility without any MILP; otherwise every set used by a cover of size <= G has reduced
    cost 1 - pi(set) <= G - sum pi, which removes most sets before HiGHS sees the MILP."""

    def __init__(self, inst: _Instance, node_limit: int, cap: int, column_cap: int):
        self.inst, self.node_limit, self.cap, self.column_cap = inst, node_limit, cap, column_cap
        self.pool: _SetPool | None = None

    @property
    def candidates(self) -> np.ndarray | None:
        """Keys of all feasible sets at the pool's T0: the values the optimum can take."""
        return None if self.pool is None else self.pool.candidates

    @property
    def candidates_T(self) -> float:
        return -np.inf if self.pool is None else self.pool.T0

    def check(self, T: float, force: bool = True) -> tuple[str, np.ndarray | None]:
        """("feasible", assignment) | ("infeasible", None) | ("unknown", None) at node limits |
        ("slack", None) when not `force`d and the LP bound leaves at least SLACK GPUs free or
        reduced-cost fixing keeps more than KEEP_CAP sets: the full MILP is then skipped (it is
        large, and the answer almost surely "feasible"), and the bisection looks lower first."""
        from scipy.optimize import linprog
        from scipy.sparse import csc_array

        inst = self.inst
        n, G = inst.n, inst.gpu_num
        if self.pool is None or T > self.pool.T0:
            self.pool = _SetPool(inst, T, self.cap)
        idx = self.pool.maximal(T)
        if idx is None:
            return "infeasible", None
        if idx.size > self.column_cap:
            raise _TooMany
        family = self.pool.members[idx].astype(np.int64)
        lens = self.pool.lens[idx]
        m = lens.size
        rows = family[family >= 0]
        cols = np.repeat(np.arange(m), lens)
        A = csc_array((np.ones(rows.size), (rows, cols)), shape=(n, m))
        AT = A.T.tocsr()

        # Column generation for the LP relaxation, starting from one largest set per model.
        order = np.lexsort((cols, -lens[cols], rows))
        firsts = order[np.r_[True, rows[order][1:] != rows[order][:-1]]]
        active = np.unique(cols[firsts])
        pi = np.zeros(n)
        for _ in range(CG_MAX_ROUNDS):
            res = linprog(np.ones(active.size), A_ub=-A[:, active], b_ub=-np.ones(n),
                          bounds=(0, None), method="highs")
            if res.status != 0:
                break
            pi = np.maximum(-np.asarray(res.ineqlin.marginals), 0.0)
            rc = 1.0 - AT @ pi
            neg = np.flatnonzero(rc < -1e-9)
            if neg.size == 0:
                break
            add = neg[np.argsort(rc[neg], kind="stable")[:CG_BATCH]]
            active = np.union1d(active, add)
        load = AT @ pi
        top = float(load.max()) if m else 0.0
        if top > 1.0:
            pi = pi / top
            load = AT @ pi
        bound = float(pi.sum())
        if bound > G + CERT_EPS:
            return "infeasible", None
        rc = 1.0 - load
        keep = np.flatnonzero(rc <= G - bound + CERT_EPS)

        # A small MILP on the LP's own sets often finds a cover at once; the decisive MILP
        # uses every set that reduced-cost fixing keeps.
        small = np.intersect1d(active, keep)
        status, assign = self._milp(family, A, small, min(self.node_limit, SMALL_NODE_LIMIT))
        if status == "feasible" or (status == "infeasible" and small.size == keep.size):
            return status, assign
        if not force and (bound <= G - SLACK or keep.size > KEEP_CAP):
            return "slack", None
        return self._milp(family, A, keep, self.node_limit)

    def _milp(self, family, A, cols: np.ndarray, node_limit: int) -> tuple[str, np.ndarray | None]:
        from scipy.optimize import Bounds, LinearConstraint, milp
        from scipy.sparse import vstack, csc_array

        inst = self.inst
        if cols.size == 0:
            return "infeasible", None
        sub = vstack([A[:, cols], csc_array(np.ones((1, cols.size)))]).tocsc()
        lo = np.concatenate([np.ones(inst.n), [-np.inf]])
        hi = np.concatenate([np.full(inst.n, np.inf), [float(inst.gpu_num)]])
        # HiGHS's presolve spends seconds on these wide 0/1 matrices and reduces nothing.
        res = _run_milp(milp, np.zeros(cols.size), sub, lo, hi, Bounds(0, 1), LinearConstraint,
                        node_limit, presolve=False)
        if res.x is not None and res.status in (0, 1):
            assign = np.full(inst.n, -1, dtype=np.int64)
            gpu = 0
            for c in cols[np.flatnonzero(res.x > 0.5)]:
                members = family[c][family[c] >= 0]
                members = members[assign[members] < 0]
                if members.size:
                    assign[members] = gpu
                    gpu += 1
            if (assign < 0).any() or gpu > inst.gpu_num:
                return "unknown", None
            return "feasible", assign
        if res.status == 2:
            return "infeasible", None
        return "unknown", None


def _run_milp(milp, c, A, lo, hi, bounds, LinearConstraint, node_limit, presolve=True):
    options = {"node_limit": node_limit, "presolve": presolve, "threads": 1, "random_seed": 0,
               "disp": False}
    if not presolve:
        # RENS and RINS solve sub-MIPs with presolve on, which is what is slow here.
        options.update(mip_heuristic_run_rens=False, mip_heuristic_run_rins=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # extra options go to HiGHS verbatim
        return milp(c, integrality=np.ones(c.size), bounds=bounds,
                    constraints=LinearConstraint(A, lo, hi), options=options)


# --------------------------------------------------------------------------------------------
# Exact solver
# --------------------------------------------------------------------------------------------

def solve(
    gpu_num: int, models: Sequence[ModelSpec], node_limit: int = DEFAULT_NODE_LIMIT, *,
    initial: Sequence[int] | None = None, max_steps: int = DEFAULT_MAX_STEPS,
    kicks: int = DEFAULT_SOLVE_KICKS, seed: int = 0, set_cap: int = DEFAULT_SET_CAP,
    column_cap: int = DEFAULT_COLUMN_CAP, fallback_node_limit: int = DEFAULT_FALLBACK_NODE_LIMIT,
    polish_kicks: int = DEFAULT_POLISH_KICKS,
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
    cover = _SetCover(inst, node_limit, set_cap, column_cap)
    too_big: Fraction | None = None  # lowest T whose set family exceeded the caps
    too_big_count = 0
    slack: Fraction | None = None  # lowest T where the LP relaxation left GPUs to spare
    descend = DESCEND_STEPS
    for _ in range(max_steps):
        # The first test is the optimality proof itself, halfway into the empty gap below the
        # incumbent (the heuristic is often optimal); after that, bisection below it.
        proof_T = ub_key - Fraction(1, 2 * GPU_MEMORY_GB * Fb)
        top = proof_T if too_big is None else min(proof_T, (lb_key + too_big) / 2)
        force = True
        if descend > 0:
            T, force = top, False
        elif top == proof_T and cover.candidates is not None and cover.candidates_T >= float(proof_T):
            # Bisection over the values the optimum can take: keys of feasible sets in
            # (lb, proof_T] (below the lowest "slack" point, if any, which is tested last).
            # Floats of these keys order them exactly (see _keys).
            c = cover.candidates
            hi = proof_T if slack is None else min(proof_T, slack)
            c = c[(c > float(lb_key)) & (c < float(hi))]
            if c.size:
                T, force = Fraction(float(c[(c.size - 1) // 2])), False
            else:
                T = hi
        else:
            hi = top if slack is None else min(top, slack)
            T, force = (lb_key + hi) / 2, False
        descend -= 1
        Tf = float(T)
        try:
            status, cand = cover.check(Tf, force)
        except _TooMany:
            # Too many sets at this T: look lower (fewer sets), where a feasible answer improves
            # the incumbent and an infeasible one the bound. After a few, one node-limited
            # assignment MILP at the proof point, then stop.
            too_big = T if too_big is None else min(too_big, T)
            too_big_count += 1
            if too_big_count < MAX_TOO_BIG:
                continue
            status, cand = _Feasibility(inst, fallback_node_limit).check(float(proof_T))
            Tf = float(proof_T)
            if status == "feasible":
                status = "unknown" if _max_key(inst, cand)[0] >= float(ub_key) else status
        if status == "infeasible":
            # No placement has every key <= Tf (the exact value of the float the check saw).
            lb_key = max(lb_key, Fraction(Tf))
            if proven():
                return result("optimal")
            continue
        if status == "slack":
            slack = T if slack is None else min(slack, T)
            continue
        if status == "unknown":
            break
        if math.isfinite(_max_key(inst, cand)[0]):
            cand = _local_search(inst, cand)
        key, W, F = _max_key(inst, cand)
        new_key = _key_fraction(W, F) if math.isfinite(key) else None
        if new_key is None or new_key >= ub_key:
            break  # the check accepted a point we cannot confirm: stop, keep what is proven
        assign, ub_key, Fb = cand, new_key, F
        if too_big_count >= MAX_TOO_BIG:
            break
    # Unproven: spend a fixed number of extra local-search kicks on the incumbent.
    polished = _heuristic(inst, assign, polish_kicks, seed + 1)
    _, W, F = _max_key(inst, polished)
    if _key_fraction(W, F) < ub_key:
        assign, ub_key, Fb = polished, _key_fraction(W, F), F
        if proven():
            return result("optimal")
    return result("best_known")
