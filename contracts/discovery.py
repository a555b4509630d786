"""The public discovery document."""

from marshmallow import fields

from contracts.base import CompactSchema, url_field

__all__ = ["DiscoverySchema", "InfluxDatabaseSchema"]


class InfluxDatabaseSchema(CompactSchema):
    """Connection information of one InfluxDB database, without credentials."""

    url = url_field(description="URL of the InfluxDB service")
    database = fields.String(required=True, metadata={"description": "Database name to use in queries"})
    description = fields.String(metadata={"description": "Long description of the database"})
    schema_registry = url_field(description="Confluent-compatible schema registry of its Kafka topics")
    credentials_url = url_field(description="Authenticated route that returns the credentials")
    local = fields.Boolean(metadata={"default": False, "description": "Whether the database is local to this environment"})


class DiscoverySchema(CompactSchema):
    """Everything a client needs to find services and databases."""

    applications = fields.List(fields.String(), metadata={"description": "Phalanx applications enabled in this environment, sorted"})
    environment_name = fields.String(metadata={"description": "Human-readable name of the environment"})
    influxdb_databases = fields.Dict(
        keys=fields.String(),
        values=fields.Nested(InfluxDatabaseSchema),
        metadata={"description": "InfluxDB databases by label"},
    )
