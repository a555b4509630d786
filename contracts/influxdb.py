"""InfluxDB connection information with credentials (protected routes)."""

from marshmallow import fields

from contracts.base import CompactSchema, url_field

__all__ = ["InfluxDatabaseWithCredentialsSchema"]


class InfluxDatabaseWithCredentialsSchema(CompactSchema):
    """Everything needed to log in to one InfluxDB database."""

    url = url_field(description="URL of the InfluxDB service")
    database = fields.String(required=True)
    description = fields.String()
    username = fields.String(required=True)
    password = fields.String(required=True)
    schema_registry = url_field(
        description="Confluent-compatible schema registry of its Kafka topics"
    )
    local = fields.Boolean(metadata={"default": False})
