"""Prism's greedy placement: the initial program of the ADRS / OpenEvolve Prism experiment.

Source: Prism (multi-LLM serving with GPU sharing) placement heuristic, as used as the starting
program of the ADRS ("Barbarians at the Gate") OpenEvolve case study; re-implemented here from its
description. Models are taken in decreasing order of weighted request rate req_rate / slo; each goes
to the GPU whose current KV-cache pressure (weighted request rate / free memory) is lowest among
the GPUs that still have room for it (ties: the lowest GPU id). Note that "room" is
model_size <= free memory, so a GPU may be filled to exactly 80 GB (then it is infeasible); this
matches the original program. Raises ValueError when a model fits on no GPU.
On the 50 public ADRS cases this scores combined_score = 1/mean(max_kvpr) + 1 = 21.8916.
"""

GPU_MEM_SIZE = 80  # GB per GPU


def compute_model_placement(gpu_num, models):
    """Return {gpu_id: [models]} placed by Prism's greedy (every GPU id present)."""
    sorted_models = sorted(models, key=lambda m: m.req_rate / m.slo, reverse=True)

    placement = {gpu_id: [] for gpu_id in range(gpu_num)}
    shared_kv = [GPU_MEM_SIZE for gpu_id in range(gpu_num)]  # free memory per GPU
    weighted_req_rate = [0 for gpu_id in range(gpu_num)]  # sum of req_rate / slo per GPU

    for model in sorted_models:
        best_idx = None
        best_ratio = float("inf")
        for gpu_id in range(gpu_num):
            if model.model_size <= shared_kv[gpu_id] and shared_kv[gpu_id] > 0:
                ratio = weighted_req_rate[gpu_id] / shared_kv[gpu_id]
                if ratio < best_ratio:  # strict: the first (lowest-id) GPU wins ties
                    best_ratio = ratio
                    best_idx = gpu_id
        if best_idx is None:
            raise ValueError(
                "model %s (%d GB) fits on no GPU" % (model.model_name, model.model_size)
            )
        placement[best_idx].append(model)
        weighted_req_rate[best_idx] += model.req_rate / model.slo
        shared_kv[best_idx] -= model.model_size

    return placement
