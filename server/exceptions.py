"""Exceptions of the service, kept apart so every layer can raise them.

No exception message here may ever contain a secret: messages name files,
keys and labels only.
"""

from __future__ import annotations

__all__ = [
    "AuthenticationError",
    "ClientRequestError",
    "ConfigError",
    "DatabaseNotFoundError",
    "InsufficientScopeError",
    "InvalidHostError",
    "SecretUnavailableError",
]


def format_key_path(path: tuple[str | int, ...]) -> str:
    """Render a key path the way an operator writes it: ``config.a.b[0]``."""
    rendered = ""
    for part in path:
        if isinstance(part, int):
            rendered += f"[{part}]"
        else:
            rendered += f".{part}" if rendered else part
    return rendered or "(top level)"


class ConfigError(Exception):
    """A configuration file is unusable; names the file, the key and the fault."""

    def __init__(self, message: str, *, source: str, path: tuple[str | int, ...]) -> None:
        self.source = source
        self.path = path
        self.reason = message
        super().__init__(f"{source}: {format_key_path(path)}: {message}")


class ClientRequestError(Exception):
    """An error answered to the client in the ``detail`` JSON shape."""

    status = 400
    error_type = "invalid_request"

    def __init__(
        self,
        message: str,
        *,
        loc: tuple[str, ...] = (),
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.loc = loc
        self.headers = headers or {}


class DatabaseNotFoundError(ClientRequestError):
    """The requested InfluxDB database label is not configured."""

    status = 404
    error_type = "database_not_found"

    def __init__(self, label: str) -> None:
        super().__init__(f"Database {label} not found", loc=("path", "database"))


class SecretUnavailableError(ClientRequestError):
    """The secret file of a database is missing or unreadable."""

    status = 503
    error_type = "credentials_unavailable"

    def __init__(self, label: str) -> None:
        super().__init__(
            f"Credentials for database {label} are unavailable",
            loc=("path", "database"),
        )
        self.label = label


class AuthenticationError(ClientRequestError):
    """The caller did not prove who it is."""

    status = 401
    error_type = "not_authenticated"


class InsufficientScopeError(ClientRequestError):
    """The caller is known but lacks the scope the route requires."""

    status = 403
    error_type = "permission_denied"


class InvalidHostError(ClientRequestError):
    """The Host (or trusted X-Forwarded-Host) header cannot form a URL."""

    status = 400
    error_type = "invalid_host"
