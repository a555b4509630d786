"""What ``GET {prefix}/health/ready`` reports: the loaded configuration, no secrets.

Liveness (``/health``) says the process answers; readiness says what it
serves: which configuration generation, loaded when, and whether every
database's secret file can be read right now, so that an operator sees a
missing or empty secret before a user asks for its credentials.
"""

from __future__ import annotations

from typing import Any

from server.exceptions import ClientRequestError
from server.secrets import SecretStore
from server.state import ServiceState

__all__ = ["NotReadyError", "readiness"]


class NotReadyError(ClientRequestError):
    """No configuration is loaded, so nothing can be served."""

    status = 503
    error_type = "not_ready"

    def __init__(self) -> None:
        super().__init__("No configuration is loaded")


def readiness(state: ServiceState | None) -> dict[str, Any]:
    """The readiness body of ``state``; `NotReadyError` when there is none."""
    if state is None:
        raise NotReadyError
    snapshot = state.current
    store = SecretStore(state.settings.secrets_dir)
    databases: dict[str, dict[str, Any]] = {}
    for label, key in sorted(snapshot.credentials.secret_keys().items()):
        status = store.status(key)
        databases[label] = {
            "secret_present": status.available or status.reason != "file not found",
            "secret_readable": status.available,
            "problem": status.reason,
        }
    degraded = any(not entry["secret_readable"] for entry in databases.values())
    return {
        "status": "degraded" if degraded else "ready",
        "generation": snapshot.generation,
        "loaded_at": snapshot.loaded_at,
        "databases": databases,
    }
