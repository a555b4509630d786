"""Marshmallow schemas mirroring the component schemas of ``openapi.yaml``.

Every response body of the service is serialised through one of these, and a
test converts them with apispec and compares them with ``openapi.yaml`` so the
two cannot drift apart.
"""

from contracts.base import CompactSchema
from contracts.discovery import (
    ApiVersionSchema,
    DataServiceSchema,
    DatasetSchema,
    DiscoverySchema,
    InfluxDatabaseSchema,
    InternalServiceSchema,
    ServicesSchema,
    UiServiceSchema,
)
from contracts.errors import ErrorDetailSchema, ErrorResponseSchema
from contracts.influxdb import InfluxDatabaseWithCredentialsSchema
from contracts.metadata import HealthSchema, IndexSchema, MetadataSchema
from contracts.readiness import DatabaseReadinessSchema, ReadinessSchema

__all__ = [
    "ALL_SCHEMAS",
    "ApiVersionSchema",
    "CompactSchema",
    "DataServiceSchema",
    "DatabaseReadinessSchema",
    "DatasetSchema",
    "DiscoverySchema",
    "ErrorDetailSchema",
    "ErrorResponseSchema",
    "HealthSchema",
    "IndexSchema",
    "InfluxDatabaseSchema",
    "InfluxDatabaseWithCredentialsSchema",
    "InternalServiceSchema",
    "MetadataSchema",
    "ReadinessSchema",
    "ServicesSchema",
    "UiServiceSchema",
]

ALL_SCHEMAS: tuple[type[CompactSchema], ...] = (
    ApiVersionSchema,
    DataServiceSchema,
    DatabaseReadinessSchema,
    DatasetSchema,
    DiscoverySchema,
    ErrorDetailSchema,
    ErrorResponseSchema,
    HealthSchema,
    IndexSchema,
    InfluxDatabaseSchema,
    InfluxDatabaseWithCredentialsSchema,
    InternalServiceSchema,
    MetadataSchema,
    ReadinessSchema,
    ServicesSchema,
    UiServiceSchema,
)
"""Every schema that names a component of ``openapi.yaml``."""
