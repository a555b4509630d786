"""Assemble InfluxDB credentials from the configuration and the secret files.

The secret is read on every request so a rotated password is served at once;
the serialised body is reused while the password read is unchanged.
"""

from __future__ import annotations

import logging
from typing import NamedTuple

from contracts import InfluxDatabaseWithCredentialsSchema
from server.config import InfluxDatabaseConfig, RepertoireConfig
from server.discovery import serialize
from server.exceptions import DatabaseNotFoundError, SecretUnavailableError
from server.secrets import SecretStore, SecretUnreadableError

__all__ = ["CredentialsService"]

_LOGGER = logging.getLogger("repertoire.credentials")


class _Cached(NamedTuple):
    """One database's document and body, valid while its password is unchanged."""

    password: str
    document: dict[str, object]
    body: bytes


class CredentialsService:
    """Credentials of the configured databases, as response bodies."""

    def __init__(self, config: RepertoireConfig, store: SecretStore) -> None:
        self._databases = config.influxdb_databases
        self._store = store
        self._schema = InfluxDatabaseWithCredentialsSchema()
        self._cache: dict[str, _Cached] = {}

    @property
    def labels(self) -> list[str]:
        """Labels of every configured database, sorted."""
        return sorted(self._databases)

    def one(self, label: str) -> bytes:
        """The credentials body of one database."""
        return self._cached(label).body

    def all(self) -> bytes:
        """``{label: credentials}`` for every database."""
        return serialize({label: self._cached(label).document for label in self.labels})

    def _cached(self, label: str) -> _Cached:
        database = self._databases.get(label)
        if database is None:
            raise DatabaseNotFoundError(label)
        password = self._password(database)
        cached = self._cache.get(label)
        if cached is not None and cached.password == password:
            return cached
        document: dict[str, object] = self._schema.dump(
            {
                "url": database.url,
                "database": database.database,
                "description": database.description,
                "username": database.username,
                "password": password,
                "schema_registry": database.schema_registry,
                "local": database.local,
            }
        )
        cached = _Cached(password, document, serialize(document))
        self._cache[label] = cached
        return cached

    def _password(self, database: InfluxDatabaseConfig) -> str:
        try:
            return self._store.read(database.password_key)
        except SecretUnreadableError as exc:
            _LOGGER.error(
                "Cannot serve credentials of database %s: secret %s %s",
                database.label,
                database.password_key,
                exc.reason,
            )
            raise SecretUnavailableError(database.label) from None

    def secret_keys(self) -> dict[str, str]:
        """``{label: passwordKey}``, for start-up and readiness checks."""
        return {label: db.password_key for label, db in self._databases.items()}

    def warn_unavailable_secrets(self) -> list[str]:
        """Log each database whose secret cannot be read now; return their labels."""
        return self._store.warn_unavailable(self.secret_keys())
