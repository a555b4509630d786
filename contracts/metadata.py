"""Bodies of the index and health routes."""

from marshmallow import fields

from contracts.base import CompactSchema, url_field

__all__ = ["HealthSchema", "IndexSchema", "MetadataSchema"]


class MetadataSchema(CompactSchema):
    """Name and version of the running service."""

    name = fields.String(required=True)
    version = fields.String(required=True)
    description = fields.String(required=True)
    repository_url = url_field(description="Source repository")
    documentation_url = url_field(description="Documentation")


class IndexSchema(CompactSchema):
    """Body of ``GET {prefix}/``."""

    metadata = fields.Nested(MetadataSchema, required=True)


class HealthSchema(CompactSchema):
    """Body of ``GET /health``: answered while the process serves."""

    status = fields.String(required=True, metadata={"enum": ["ok"]})
