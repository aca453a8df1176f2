"""First-fit placement: the naive starting point described in the ADRS blog post on Prism placement.

Source: ADRS ("Barbarians at the Gate: How AI is Upending Systems Research") blog / paper, Prism
model-placement case study: the naive approach fills GPUs in order by memory alone, ignoring load.
Each model, in input order, goes to the lowest-numbered GPU on which it still fits with KV-cache
memory left over, i.e. the GPU's model weights stay strictly below 80 GB after placing it.
Request rates and SLOs are ignored, so the busiest models can pile onto the same GPU.
Raises ValueError when a model fits on no GPU.
"""

GPU_MEM_SIZE = 80  # GB per GPU


def compute_model_placement(gpu_num, models):
    """Return {gpu_id: [models]} filled first-fit by memory (every GPU id present)."""
    placement = {gpu_id: [] for gpu_id in range(gpu_num)}
    used = [0] * gpu_num
    for model in models:
        target = None
        for gpu_id in range(gpu_num):
            if used[gpu_id] + model.model_size < GPU_MEM_SIZE:
                target = gpu_id
                break
        if target is None:
            raise ValueError(
                "model %s (%d GB) fits on no GPU: every GPU would reach %d GB"
                % (model.model_name, model.model_size, GPU_MEM_SIZE)
            )
        placement[target].append(model)
        used[target] = used[target] + model.model_size
    return placement
