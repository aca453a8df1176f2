"""Parent side of prism_placement: validate a placement against the pristine case and score it.

Pure: (case, raw output from the child) -> (status, message, score, metrics). The child's report
is untrusted data; every check happens here, against our own copy of the instance, so mutating the
input objects or forging fields in the child changes nothing.

Score of an instance: reference / max-KVPR (1.0 = matches the proven optimum; may exceed 1.0 only
where the reference is a best-known value). A failed instance scores 0.
"""
from __future__ import annotations

from typing import Any

from adrs_bench.quote import clip

from .instance import Case
from .kvpr import GPU_MEMORY_GB, gpu_loads, max_kvpr_exact

FAILED_SCORE = 0.0


class PlacementInvalid(Exception):
    pass


def describe_bad_key(key: dict, gpu_num: int) -> str:
    return (f"GPU id {clip(key.get('repr', '?'), 40)} is a {clip(key.get('type', '?'), 40)}, expected an int in "
            f"0..{gpu_num - 1}")


def assignment_from(case: Case, raw: Any) -> list[int]:
    """The GPU of every model, or PlacementInvalid naming the first problem."""
    n, gpu_num = len(case.models), case.gpu_num
    if not isinstance(raw, dict) or raw.get("kind") not in ("placement", "not_a_dict", "too_large"):
        raise PlacementInvalid("the child's report is malformed")
    if raw["kind"] == "not_a_dict":
        raise PlacementInvalid(
            f"expected a dict mapping GPU id to a list of models, got {clip(raw.get('type'), 40)}")
    if raw["kind"] == "too_large":
        raise PlacementInvalid(f"the placement lists far more entries than the {n} models and {gpu_num} GPUs")
    assignment: list[int | None] = [None] * n
    gpus = raw.get("gpus")
    if not isinstance(gpus, list):
        raise PlacementInvalid("the child's report is malformed")
    for gpu in gpus:
        key = gpu.get("key") if isinstance(gpu, dict) else None
        if not isinstance(key, dict):
            raise PlacementInvalid("the child's report is malformed")
        gpu_id = key.get("int")
        if type(gpu_id) is not int:
            raise PlacementInvalid(describe_bad_key(key, gpu_num))
        if not 0 <= gpu_id < gpu_num:
            raise PlacementInvalid(f"GPU id {gpu_id} is out of range, expected an int in 0..{gpu_num - 1}")
        if "models" not in gpu:
            raise PlacementInvalid(
                f"GPU {gpu_id}: expected a list of models, got {clip(gpu.get('value_type'), 40)}")
        entries = gpu["models"]
        if not isinstance(entries, list):
            raise PlacementInvalid("the child's report is malformed")
        for entry in entries:
            if isinstance(entry, dict):
                if "altered" in entry:
                    raise PlacementInvalid(
                        f"GPU {gpu_id}: a copy of {clip(entry['altered'], 40)} has other size, rate or slo "
                        "than the input model")
                raise PlacementInvalid(
                    f"GPU {gpu_id}: holds a {clip(entry.get('foreign'), 40)} that is not one of the input models")
            if type(entry) is not int or not 0 <= entry < n:
                raise PlacementInvalid("the child's report is malformed")
            if assignment[entry] is not None:
                raise PlacementInvalid(
                    f"{case.models[entry].model_name} is placed twice (GPUs {assignment[entry]} and {gpu_id})")
            assignment[entry] = gpu_id
    missing = [case.models[i].model_name for i, g in enumerate(assignment) if g is None]
    if missing:
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        raise PlacementInvalid(f"not placed: {', '.join(missing[:3])}{more}; every model must be on exactly one GPU")
    for gpu_id, on_gpu in enumerate(gpu_loads(gpu_num, case.models, assignment)):
        used = sum(m.model_size for m in on_gpu)
        if used >= GPU_MEMORY_GB:
            raise PlacementInvalid(
                f"GPU {gpu_id} holds {used} GB of models, expected under {GPU_MEMORY_GB} GB (room for KV cache)")
    return assignment  # type: ignore[return-value]


def reference_metrics(case: Case) -> dict:
    ref = case.reference
    return {"gpus": case.gpu_num, "models": len(case.models), "family": case.family,
            "reference": float(ref.value), "reference_status": ref.status, "lower_bound": float(ref.lower_bound)}


def evaluate(case: Case, raw: Any) -> tuple[str, str, float, dict, list[int] | None]:
    """(status, message, score, metrics, assignment) for one instance."""
    metrics = reference_metrics(case)
    try:
        assignment = assignment_from(case, raw)
    except PlacementInvalid as exc:
        return "invalid", str(exc), FAILED_SCORE, metrics, None
    worst = max_kvpr_exact(case.gpu_num, case.models, assignment)
    assert worst is not None  # memory was checked above
    reference = case.reference.value
    score = float(reference / worst) if worst > 0 else 1.0
    gap = float(worst / reference - 1) if reference > 0 else 0.0
    metrics.update({
        "max_kvpr": float(worst),
        "gap": gap,
        # "optimal" only where the reference is a proven optimum; else "at or below the best known".
        "optimal": worst <= reference and case.reference.status == "optimal",
        "at_reference": worst <= reference,
    })
    return "ok", "", score, metrics, assignment
