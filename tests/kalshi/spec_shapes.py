"""Validate JSON answers against the response schemas of Kalshi's OpenAPI spec (v3.13.0, in ../shared/specs).

OpenAPI 3.0's ``nullable`` becomes JSON Schema's ``null`` type; ``$ref`` resolves inside the spec.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import jsonschema
import referencing
import yaml

SPEC = Path(__file__).resolve().parents[3] / "shared" / "specs" / "kalshi-trade-api-v2-3.13.0.yaml"
if not SPEC.exists():  # a worktree sits one level deeper than the main checkout
    SPEC = Path("/work/shared/specs/kalshi-trade-api-v2-3.13.0.yaml")


def _nullable(node: Any) -> Any:
    if isinstance(node, list):
        return [_nullable(n) for n in node]
    if not isinstance(node, dict):
        return node
    node = {k: _nullable(v) for k, v in node.items()}
    if node.pop("nullable", False):
        return {"anyOf": [node, {"type": "null"}]}
    return node


@functools.cache
def _registry() -> tuple[dict, referencing.Registry]:
    spec = _nullable(yaml.safe_load(SPEC.read_text()))
    resource = referencing.Resource.from_contents(
        spec, default_specification=referencing.jsonschema.DRAFT202012
    )
    return spec, referencing.Registry().with_resource("spec", resource)


def check(schema_name: str, body: Any) -> None:
    """Raise ``jsonschema.ValidationError`` unless ``body`` fits ``components/schemas/<schema_name>``."""
    _, registry = _registry()
    validator = jsonschema.Draft202012Validator(
        {"$ref": f"spec#/components/schemas/{schema_name}"}, registry=registry
    )
    validator.validate(body)
