"""``contracts/`` and the component schemas of ``openapi.yaml`` must agree.

The marshmallow schemas are converted with apispec's MarshmallowPlugin and
compared, key by key, with the hand-written contract: properties, types,
formats, enums, defaults, required, nullable and additionalProperties.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import Schema, fields

from contracts import ALL_SCHEMAS, CompactSchema
from tests.support.contract import SPEC

_COMPARED = (
    "type",
    "format",
    "enum",
    "default",
    "nullable",
    "$ref",
    "additionalProperties",
    "items",
    "properties",
    "required",
)


def component_name(schema: type[Schema]) -> str:
    """``DiscoverySchema`` is the component ``Discovery``."""
    return schema.__name__.removesuffix("Schema")


def converted(schemas: tuple[type[Schema], ...]) -> dict[str, Any]:
    """The component schemas apispec derives from the marshmallow schemas."""
    spec = APISpec(
        "drift",
        "1",
        "3.0.3",
        plugins=[
            MarshmallowPlugin(
                schema_name_resolver=lambda s: component_name(s if isinstance(s, type) else type(s))
            )
        ],
    )
    for schema in schemas:
        if component_name(schema) not in spec.components.schemas:  # nested ones come first
            spec.components.schema(component_name(schema), schema=schema)
    result: dict[str, Any] = spec.to_dict()["components"]["schemas"]
    return result


def normalise(node: Any) -> Any:
    """Keep only what the contract promises; order lists that are sets."""
    if isinstance(node, dict):
        kept = {key: normalise(value) for key, value in node.items() if key in _COMPARED}
        if "properties" in node:
            kept["properties"] = {k: normalise(v) for k, v in node["properties"].items()}
        if "required" in kept:
            kept["required"] = sorted(kept["required"])
        if kept.get("additionalProperties") == {}:
            kept["additionalProperties"] = True
        return kept
    return node


def differences(left: dict[str, Any], right: dict[str, Any]) -> list[str]:
    """Human-readable differences between two component maps."""
    problems = []
    for name in sorted(set(left) | set(right)):
        if name not in left:
            problems.append(f"{name}: only in openapi.yaml")
        elif name not in right:
            problems.append(f"{name}: only in contracts/")
        elif normalise(left[name]) != normalise(right[name]):
            problems.append(
                f"{name}: contracts/ {normalise(left[name])} != "
                f"openapi.yaml {normalise(right[name])}"
            )
    return problems


def contract_components() -> dict[str, Any]:
    """The component schemas of openapi.yaml."""
    schemas: dict[str, Any] = SPEC["components"]["schemas"]
    return schemas


def test_contracts_and_openapi_agree() -> None:
    assert differences(converted(ALL_SCHEMAS), contract_components()) == []


def test_changing_only_openapi_is_detected() -> None:
    edited = copy.deepcopy(contract_components())
    edited["InfluxDatabaseWithCredentials"]["properties"]["password"]["nullable"] = True
    problems = differences(converted(ALL_SCHEMAS), edited)
    assert len(problems) == 1
    assert problems[0].startswith("InfluxDatabaseWithCredentials:")


def test_changing_only_contracts_is_detected() -> None:
    class HealthSchema(CompactSchema):
        status = fields.String(required=True, metadata={"enum": ["ok"]})
        uptime = fields.Integer()

    schemas = tuple(HealthSchema if s.__name__ == "HealthSchema" else s for s in ALL_SCHEMAS)
    problems = differences(converted(schemas), contract_components())
    assert len(problems) == 1
    assert problems[0].startswith("Health:")


@pytest.mark.parametrize("schema", ALL_SCHEMAS, ids=component_name)
def test_every_schema_names_a_component(schema: type[Schema]) -> None:
    assert component_name(schema) in contract_components()
