"""Error bodies, in the ``detail`` shape that upstream (FastAPI) clients expect."""

from marshmallow import fields

from contracts.base import CompactSchema

__all__ = ["ErrorDetailSchema", "ErrorResponseSchema"]


class ErrorDetailSchema(CompactSchema):
    """One problem: where it is, what it is, and a machine-readable type."""

    loc = fields.List(
        fields.String(),
        required=True,
        metadata={"description": 'Location of the problem, e.g. ["path", "database"]'},
    )
    msg = fields.String(required=True, metadata={"description": "Human-readable message"})
    type = fields.String(required=True, metadata={"description": "Machine-readable error type"})


class ErrorResponseSchema(CompactSchema):
    """Body of every 4xx and 5xx response."""

    detail = fields.List(fields.Nested(ErrorDetailSchema), required=True)
