"""Child side of prism_placement: build the public `Model` objects, call the submission, and turn
its placement into model indices before anything crosses the pipe.

Runs inside the sandboxed child. Nothing it returns is trusted: the parent re-validates every
field (see evaluator.py). Identity decides which input model an object is; a value-equal copy is
matched by name (published programs sometimes deep-copy their inputs).
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass

MAX_ENTRIES_FACTOR = 4  # a placement listing more than 4x (models + GPUs) entries is cut short


@dataclass
class Model:
    """The public interface (ADRS / Prism): published programs use exactly these fields."""

    model_name: str
    model_size: int
    req_rate: int
    slo: int
    cur_gpu_id: int


def describe_key(key):
    if isinstance(key, bool):
        return {"type": "bool", "repr": repr(key)}
    if isinstance(key, numbers.Integral):
        return {"int": int(key)}
    return {"type": type(key).__name__, "repr": repr(key)[:40]}


def describe_entry(obj, by_identity, by_name, pristine):
    index = by_identity.get(id(obj))
    if index is not None:
        return index
    name = getattr(obj, "model_name", None)
    if isinstance(name, str) and name in by_name:
        index = by_name[name]
        try:
            same = (obj.model_size, obj.req_rate, obj.slo) == pristine[index]
        except Exception:
            same = False
        return index if same is True else {"altered": name}
    return {"foreign": type(obj).__name__}


def run_placement(namespace: dict, payload: dict):
    entry = namespace["compute_model_placement"]
    rows = payload["models"]
    models = [Model(name, size, rate, slo, 0) for name, size, rate, slo in rows]
    pristine = [(size, rate, slo) for _, size, rate, slo in rows]
    by_identity = {id(m): i for i, m in enumerate(models)}
    by_name = {row[0]: i for i, row in enumerate(rows)}
    result = entry(payload["gpu_num"], models)
    if not isinstance(result, dict):
        return {"kind": "not_a_dict", "type": type(result).__name__}
    budget = MAX_ENTRIES_FACTOR * (len(models) + payload["gpu_num"]) + 16
    gpus = []
    for key, value in result.items():
        budget -= 1
        if budget < 0:
            return {"kind": "too_large"}
        if not isinstance(value, list):
            gpus.append({"key": describe_key(key), "value_type": type(value).__name__})
            continue
        budget -= len(value)
        if budget < 0:
            return {"kind": "too_large"}
        gpus.append({"key": describe_key(key),
                     "models": [describe_entry(obj, by_identity, by_name, pristine) for obj in value]})
    return {"kind": "placement", "gpus": gpus}
