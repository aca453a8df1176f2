"""Look-ahead greedy plus local search for prism_placement.

Source: the strategy the ADRS blog post ("Barbarians at the Gate", Prism model-placement case study)
describes for the program OpenEvolve evolved: place models one by one while looking at the effect of
each choice on the maximum KV-cache pressure, then improve the placement by moving and swapping
models between GPUs. Written for this benchmark from that description; the details below are ours.

1. Look-ahead placement. Models are sorted by weighted request rate req_rate / slo, descending
   (ties: larger model first, then input order). Each model goes to the GPU where the maximum KVPR
   over all GPUs *after* placing it is lowest; ties go to the GPU whose own KVPR after placing is
   lower, then to the lower GPU id. A GPU is a candidate only if its weights stay below 80 GB.
2. Local search. Repeatedly take the GPU with the largest KVPR (lowest id on ties) and apply the best
   single-model move from it to another GPU, or, if no move helps, the best swap of one of its models
   with a model on another GPU. A change is accepted only if both GPUs it touches end strictly below
   the current maximum, so each step either lowers the maximum or lowers the number of GPUs sitting at
   it: the search cannot cycle. It stops when no such change exists or after a fixed number of steps
   (MAX_STEPS_PER_MODEL per model, plus MIN_STEPS); there is no time-based cut-off, so runs are
   bit-identical.

Per-GPU sums (weighted rate, free memory, KVPR) are kept incrementally, so one step costs
O(models on the worst GPU x GPUs) for moves and O(models on the worst GPU x models) for swaps.
When the look-ahead leaves a model with no GPU (tight memory), the start is instead a best-fit
decreasing packing by model size, which the local search then improves (moves and swaps keep every
GPU below 80 GB). Raises ValueError only when that packing fails too.
"""

GPU_MEM_SIZE = 80  # GB per GPU
INF = float("inf")
MAX_STEPS_PER_MODEL = 4
MIN_STEPS = 200


def lookahead_place(gpu_num, rate, size):
    """Place models (given by rate and size lists) one by one; return (where, load, free, kvpr)."""
    count = len(rate)
    order = sorted(range(count), key=lambda i: (-rate[i], -size[i], i))
    load = [0.0] * gpu_num  # sum of req_rate / slo per GPU
    free = [GPU_MEM_SIZE] * gpu_num  # memory not used by weights, per GPU
    kvpr = [0.0] * gpu_num
    where = [-1] * count
    for i in order:
        a = rate[i]
        s = size[i]
        # KVPR each GPU would have with this model on it (INF where it does not fit).
        cand = [(w + a) / (f - s) if f > s else INF for w, f in zip(load, free)]
        worst = max(kvpr)
        top = kvpr.index(worst)
        top_k = cand[top]
        cand[top] = INF
        best_k = min(cand)
        best = -1
        best_val = INF
        if best_k < INF:
            best = cand.index(best_k)  # lowest id among equal KVPRs
            best_val = best_k if best_k > worst else worst
        if top_k < INF:
            # Placing on the worst GPU itself: the rest of the maximum is the second largest KVPR.
            kvpr[top] = -1.0
            second = max(kvpr)
            kvpr[top] = worst
            top_val = top_k if top_k > second else second
            if (top_val, top_k, top) < (best_val, best_k, best):
                best = top
                best_val = top_val
                best_k = top_k
        if best < 0:
            return None  # the caller falls back to packing by size
        where[i] = best
        load[best] = load[best] + a
        free[best] = free[best] - s
        kvpr[best] = load[best] / free[best]
    return where, load, free, kvpr


def pack_sizes(gpu_num, size):
    """Feasibility fallback: best-fit decreasing by model size (each model on the fullest GPU that keeps
    its weights below 80 GB). Returns the assignment, or None if it finds none."""
    order = sorted(range(len(size)), key=lambda i: (-size[i], i))
    used = [0] * gpu_num
    where = [-1] * len(size)
    for i in order:
        best = -1
        for g in range(gpu_num):
            if used[g] + size[i] < GPU_MEM_SIZE and (best < 0 or used[g] > used[best]):
                best = g
        if best < 0:
            return None
        where[i] = best
        used[best] = used[best] + size[i]
    return where


def sums_of(gpu_num, rate, size, where):
    """Per-GPU (load, free, kvpr) of an assignment."""
    load = [0.0] * gpu_num
    free = [GPU_MEM_SIZE] * gpu_num
    for i in range(len(rate)):
        load[where[i]] = load[where[i]] + rate[i]
        free[where[i]] = free[where[i]] - size[i]
    return load, free, [load[g] / free[g] for g in range(gpu_num)]


def local_search(gpu_num, rate, size, where, load, free, kvpr, max_steps):
    """Improve the placement in place by moves and swaps off the worst GPU; return steps taken."""
    count = len(rate)
    members = [[] for g in range(gpu_num)]
    for i in range(count):
        members[where[i]].append(i)
    steps = 0
    while steps < max_steps:
        worst = max(kvpr)
        top = kvpr.index(worst)
        top_load = load[top]
        top_free = free[top]
        best_val = worst
        move_i = -1
        move_g = -1
        move_j = -1
        # Single-model moves from the worst GPU.
        for i in members[top]:
            a = rate[i]
            s = size[i]
            top_k = (top_load - a) / (top_free + s)
            if top_k >= best_val:
                continue
            cand = [(w + a) / (f - s) if f > s else INF for w, f in zip(load, free)]
            cand[top] = INF
            dest_k = min(cand)
            val = top_k if top_k > dest_k else dest_k
            if val < best_val:
                best_val = val
                move_i = i
                move_g = cand.index(dest_k)
        # Swaps, only when no single move helps.
        if move_i < 0:
            for i in members[top]:
                a = rate[i]
                s = size[i]
                for j in range(count):
                    g = where[j]
                    if g == top:
                        continue
                    new_top_free = top_free + s - size[j]
                    if new_top_free <= 0:
                        continue
                    top_k = (top_load - a + rate[j]) / new_top_free
                    if top_k >= best_val:
                        continue
                    new_g_free = free[g] - s + size[j]
                    if new_g_free <= 0:
                        continue
                    dest_k = (load[g] - rate[j] + a) / new_g_free
                    val = top_k if top_k > dest_k else dest_k
                    if val < best_val:
                        best_val = val
                        move_i = i
                        move_g = g
                        move_j = j
        if move_i < 0:
            break
        steps = steps + 1
        a = rate[move_i]
        s = size[move_i]
        g = move_g
        members[top].remove(move_i)
        members[g].append(move_i)
        where[move_i] = g
        if move_j < 0:
            load[top] = top_load - a
            free[top] = top_free + s
            load[g] = load[g] + a
            free[g] = free[g] - s
        else:
            members[g].remove(move_j)
            members[top].append(move_j)
            where[move_j] = top
            load[top] = top_load - a + rate[move_j]
            free[top] = top_free + s - size[move_j]
            load[g] = load[g] - rate[move_j] + a
            free[g] = free[g] - s + size[move_j]
        kvpr[top] = load[top] / free[top]
        kvpr[g] = load[g] / free[g]
    return steps


def compute_model_placement(gpu_num, models):
    """Return {gpu_id: [models]} from look-ahead placement plus local search (every GPU id present)."""
    if gpu_num < 1:
        raise ValueError("gpu_num must be at least 1, got %r" % (gpu_num,))
    rate = [m.req_rate / m.slo for m in models]
    size = [m.model_size for m in models]
    placed = lookahead_place(gpu_num, rate, size)
    if placed is None:  # look-ahead painted itself into a corner: start from a size-first packing
        where = pack_sizes(gpu_num, size)
        if where is None:
            raise ValueError("no placement found: best-fit decreasing by size leaves a model on no GPU")
        load, free, kvpr = sums_of(gpu_num, rate, size, where)
    else:
        where, load, free, kvpr = placed
    max_steps = MAX_STEPS_PER_MODEL * len(models) + MIN_STEPS
    local_search(gpu_num, rate, size, where, load, free, kvpr, max_steps)
    placement = {gpu_id: [] for gpu_id in range(gpu_num)}
    for i in range(len(models)):
        placement[where[i]].append(models[i])
    return placement
