"""Body of ``GET {prefix}/health/ready``: what is loaded, never a secret."""

from marshmallow import fields

from contracts.base import CompactSchema

__all__ = ["DatabaseReadinessSchema", "ReadinessSchema"]


class DatabaseReadinessSchema(CompactSchema):
    """Whether the secret file of one database can be served now."""

    secret_present = fields.Boolean(required=True)
    secret_readable = fields.Boolean(
        required=True, metadata={"description": "Present, UTF-8 and not empty"}
    )
    problem = fields.String(metadata={"description": "Why not, e.g. file is empty"})


class ReadinessSchema(CompactSchema):
    """The configuration being served and the state of its secrets."""

    status = fields.String(
        required=True,
        metadata={
            "enum": ["ready", "degraded"],
            "description": "degraded: some database's secret cannot be read",
        },
    )
    generation = fields.Integer(
        required=True, metadata={"description": "1 at start, +1 on every reload"}
    )
    loaded_at = fields.DateTime(required=True)
    databases = fields.Dict(
        keys=fields.String(), values=fields.Nested(DatabaseReadinessSchema), required=True
    )
