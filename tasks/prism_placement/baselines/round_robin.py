"""Round-robin placement: a floor baseline for prism_placement.

Source: the simplest possible placement, used as a reference point in the ADRS study of Prism
model placement (the ADRS leaderboard normalises scores against a round-robin placement). Model i,
in input order, goes to GPU i % gpu_num. Nothing checks memory, so a GPU may end up over-full
(>= 80 GB of weights); the evaluator then marks the instance invalid. That is intended: this is
the floor every other program should beat.
"""


def compute_model_placement(gpu_num, models):
    """Return {gpu_id: [models]} with model i on GPU i % gpu_num (every GPU id present)."""
    placement = {gpu_id: [] for gpu_id in range(gpu_num)}
    for index, model in enumerate(models):
        placement[index % gpu_num].append(model)
    return placement
