"""Shared behaviour of all response schemas."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, post_dump

__all__ = ["CompactSchema", "url_field"]

_EMPTY: tuple[Any, ...] = (None, {}, [])


def url_field(*, required: bool = True, description: str = "") -> fields.String:
    """An absolute URL, declared as ``format: uri`` in the contract."""
    return fields.String(required=required, metadata={"format": "uri", "description": description})


class CompactSchema(Schema):
    """Leave out keys whose value is its default, as upstream Repertoire does.

    A key is left out when it is null, an empty list or map, or equal to the
    ``default`` declared in the field's metadata (and so in the contract).
    """

    @post_dump
    def _drop_defaults(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        compact: dict[str, Any] = {}
        for key, value in data.items():
            field = self.fields.get(key)
            if field is not None and field.required:
                compact[key] = value
            elif value in _EMPTY or (
                field is not None
                and "default" in field.metadata
                and value == field.metadata["default"]
            ):
                continue
            else:
                compact[key] = value
        return compact
