"""The OpenAPI contract, shipped in the package and served as YAML and JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

import yaml

__all__ = ["DEFAULT_PREFIX", "OpenApiDocument", "load_openapi"]

DEFAULT_PREFIX = "/repertoire"
"""The path prefix under which ``openapi.yaml`` writes its paths."""


@dataclass(frozen=True, slots=True)
class OpenApiDocument:
    """The contract, pre-serialised for serving."""

    spec: dict[str, Any]
    yaml_body: bytes
    json_body: bytes


def load_openapi(path_prefix: str = DEFAULT_PREFIX) -> OpenApiDocument:
    """Read the packaged contract, with its paths moved under ``path_prefix``."""
    text = files("server").joinpath("openapi.yaml").read_text(encoding="utf-8")
    spec: dict[str, Any] = yaml.safe_load(text)
    if path_prefix != DEFAULT_PREFIX:
        spec["paths"] = {
            path_prefix + path.removeprefix(DEFAULT_PREFIX)
            if path.startswith(DEFAULT_PREFIX + "/")
            else path: item
            for path, item in spec["paths"].items()
        }
        text = yaml.safe_dump(spec, sort_keys=False)
    return OpenApiDocument(
        spec=spec,
        yaml_body=text.encode("utf-8"),
        json_body=json.dumps(spec).encode("utf-8"),
    )
