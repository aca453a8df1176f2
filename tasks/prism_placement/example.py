"""Starter submission for prism_placement: Prism's greedy, commented for a newcomer.

Source: the greedy placement from Prism as used as the starting program of the ADRS / OpenEvolve
Prism experiment (same idea as tasks/prism_placement/baselines/prism_greedy.py), written out here
as a template to copy and improve.

The problem: put every model on exactly one GPU (80 GB each). A GPU's KV-cache pressure (KVPR) is
    sum(req_rate / slo of its models) / (80 - sum(model_size of its models))
and a GPU whose models take 80 GB or more is invalid. Make the largest KVPR as small as you can.

Rules for a submission (the harness runs it under RestrictedPython):
- define compute_model_placement(gpu_num, models) and return {gpu_id: [models]} for every gpu_id
  in 0..gpu_num-1 (empty GPUs as empty lists), holding the very model objects you were given;
- no names starting with an underscore, no open(), no global / nonlocal;
- imports only from: dataclasses, typing, math, random, copy, collections, functools, itertools,
  heapq, bisect, time, numpy;
- be deterministic: count iterations rather than looking at the clock.
Try it:  adrs-bench run prism_placement submissions/prism_placement.py
"""

GPU_MEM_SIZE = 80  # GB per GPU


def compute_model_placement(gpu_num, models):
    """Place models greedily; return {gpu_id: [models]}."""
    # IDEA 1 - the order: the busiest models (highest req_rate / slo) go first, while GPUs are empty.
    # Try other keys, e.g. rate per GB of KV cache it leaves, or larger models first.
    ordered = sorted(models, key=lambda m: m.req_rate / m.slo, reverse=True)

    placement = {gpu_id: [] for gpu_id in range(gpu_num)}
    free = [GPU_MEM_SIZE] * gpu_num  # memory left for KV cache on each GPU
    load = [0.0] * gpu_num  # sum of req_rate / slo on each GPU

    for model in ordered:
        # IDEA 2 - the choice: here, the GPU whose pressure is lowest *before* adding the model.
        # Looking at the pressure *after* adding it (load + rate) / (free - size), or at the
        # maximum over all GPUs after adding it, usually does better.
        best_gpu = None
        best_pressure = float("inf")
        for gpu_id in range(gpu_num):
            if model.model_size < free[gpu_id]:  # must leave some memory for the KV cache
                pressure = load[gpu_id] / free[gpu_id]
                if pressure < best_pressure:
                    best_pressure = pressure
                    best_gpu = gpu_id
        if best_gpu is None:
            raise ValueError("model %s does not fit on any GPU" % model.model_name)
        placement[best_gpu].append(model)
        load[best_gpu] = load[best_gpu] + model.req_rate / model.slo
        free[best_gpu] = free[best_gpu] - model.model_size

    # IDEA 3 - improve afterwards: move or swap models off the GPU with the largest KVPR while
    # that lowers it (see tasks/prism_placement/baselines/lookahead_local_search.py).
    return placement


if __name__ == "__main__":
    # A tiny example to run by hand (python submissions/prism_placement.py).
    # The harness drops this block, so it may use anything.
    from dataclasses import dataclass

    @dataclass
    class Model:
        model_name: str
        model_size: int
        req_rate: int
        slo: int
        cur_gpu_id: int

    example = [
        Model("llama-7b", 14, 9, 5, 0),
        Model("llama-13b", 26, 4, 8, 0),
        Model("mistral-7b", 15, 7, 6, 0),
        Model("phi-3", 8, 2, 9, 0),
        Model("qwen-14b", 28, 5, 7, 0),
    ]
    result = compute_model_placement(2, example)
    for gpu_id, on_gpu in result.items():
        used = sum(m.model_size for m in on_gpu)
        rate = sum(m.req_rate / m.slo for m in on_gpu)
        kvpr = rate / (GPU_MEM_SIZE - used) if on_gpu else 0.0
        print("GPU %d: %-35s %2d GB used, KVPR %.4f"
              % (gpu_id, ", ".join(m.model_name for m in on_gpu), used, kvpr))
