"""JSON Schemas shipped with the package (task spec, result record) and one validation helper."""
from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Type

from ..errors import AdrsError


@lru_cache(maxsize=None)
def load_schema(name: str) -> dict:
    return json.loads(resources.files(__package__).joinpath(f"{name}.schema.json").read_text())


def validate_or_raise(data: object, schema: dict, error: Type[AdrsError], what: str) -> None:
    """Validate `data`; raise `error` naming the first problem's location in one line."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema)
    problems = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if problems:
        first = problems[0]
        where = "/".join(str(p) for p in first.absolute_path) or "(top level)"
        raise error(f"{what} does not match its schema at {where}: {first.message}; fix that field")
