"""The public discovery document."""

from marshmallow import fields

from contracts.base import CompactSchema, url_field

__all__ = [
    "ApiVersionSchema",
    "DataServiceSchema",
    "DatasetSchema",
    "DiscoverySchema",
    "InfluxDatabaseSchema",
    "InternalServiceSchema",
    "ServicesSchema",
    "UiServiceSchema",
]


def _map_of(schema: type[CompactSchema], description: str) -> fields.Dict:
    """A JSON object mapping names to ``schema`` (``additionalProperties: $ref``)."""
    return fields.Dict(
        keys=fields.String(),
        values=fields.Nested(schema),
        metadata={"description": description},
    )


class InfluxDatabaseSchema(CompactSchema):
    """Connection information of one InfluxDB database, without credentials."""

    url = url_field(description="URL of the InfluxDB service")
    database = fields.String(
        required=True, metadata={"description": "Database name to use in queries"}
    )
    description = fields.String(metadata={"description": "Long description of the database"})
    schema_registry = url_field(
        description="Confluent-compatible schema registry of its Kafka topics"
    )
    credentials_url = url_field(description="Authenticated route that returns the credentials")
    local = fields.Boolean(
        metadata={
            "default": False,
            "description": "Whether the database is local to this environment",
        }
    )


class ApiVersionSchema(CompactSchema):
    """One version of a REST API."""

    url = url_field(description="Access URL of that version of the service")


class _ApiServiceSchema(CompactSchema):
    """Fields shared by every service with an API (not a component itself)."""

    url = url_field(description="Default access URL of the service")
    openapi = url_field(required=False, description="OpenAPI schema of the service")
    versions = _map_of(ApiVersionSchema, "API versions by name")


class InternalServiceSchema(_ApiServiceSchema):
    """An API used by other services, not tied to a dataset."""


class DataServiceSchema(_ApiServiceSchema):
    """An API serving one dataset."""


class UiServiceSchema(CompactSchema):
    """A user interface, opened in a web browser."""

    url = url_field(description="URL of the user interface")


class ServicesSchema(CompactSchema):
    """Services not tied to a dataset, by name."""

    internal = _map_of(InternalServiceSchema, "Internal API services by name")
    ui = _map_of(UiServiceSchema, "User interfaces by name")


class DatasetSchema(CompactSchema):
    """One dataset of the environment and the services that serve it."""

    butler_config = url_field(required=False, description="Butler configuration URL")
    description = fields.String(metadata={"description": "Long description of the dataset"})
    docs_url = url_field(required=False, description="Documentation of the dataset")
    services = _map_of(DataServiceSchema, "Data services by name")


class DiscoverySchema(CompactSchema):
    """Everything a client needs to find services and databases."""

    applications = fields.List(
        fields.String(),
        metadata={"description": "Phalanx applications enabled in this environment, sorted"},
    )
    datasets = _map_of(DatasetSchema, "Datasets available in this environment, by name")
    environment_name = fields.String(
        metadata={"description": "Human-readable name of the environment"}
    )
    influxdb_databases = _map_of(InfluxDatabaseSchema, "InfluxDB databases by label")
    services = fields.Nested(ServicesSchema)
