"""A prism_placement case as the trusted side holds it, parsed from the frozen instance files."""
from __future__ import annotations

import json
from dataclasses import dataclass
from fractions import Fraction

from .kvpr import ModelSpec

FORMAT = "prism_placement-instances/1"


@dataclass(frozen=True)
class Reference:
    """The best placement we know and what is proven about it."""

    status: str  # "optimal" (proven) | "best_known" (with a proven lower bound)
    value: Fraction
    lower_bound: Fraction
    placement: tuple[int, ...]
    method: str


@dataclass(frozen=True)
class Case:
    id: str
    family: str
    gpu_num: int
    models: tuple[ModelSpec, ...]
    reference: Reference


def parse_case(raw: dict) -> Case:
    ref = raw["reference"]
    return Case(
        id=raw["id"],
        family=raw["family"],
        gpu_num=int(raw["gpu_num"]),
        models=tuple(ModelSpec(str(n), int(s), int(r), int(o)) for n, s, r, o in raw["models"]),
        reference=Reference(
            status=ref["status"],
            value=Fraction(ref["value_exact"]),
            lower_bound=Fraction(ref["lower_bound_exact"]),
            placement=tuple(int(g) for g in ref["placement"]),
            method=ref["method"],
        ),
    )


def parse_document(data: bytes) -> list[Case]:
    doc = json.loads(data)
    if doc.get("format") != FORMAT:
        raise ValueError(f"expected instance format {FORMAT!r}, got {doc.get('format')!r}")
    return [parse_case(raw) for raw in doc["cases"]]
