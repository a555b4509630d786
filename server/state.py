"""What the service serves right now: one immutable snapshot per load.

A request reads ``ServiceState.current`` once and works on that snapshot, so
a reload that swaps in a new snapshot never changes a request half-way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from server.auth import Authenticator, GafaelfawrAuthenticator, TokenAuthenticator, load_tokens_file
from server.config import InvalidConfigError, RepertoireConfig, load_config
from server.credentials import CredentialsService
from server.discovery import DiscoveryService
from server.exceptions import ConfigError
from server.secrets import SecretStore

__all__ = ["AuthMode", "ServiceSettings", "ServiceState", "Snapshot", "load_snapshot"]

AuthMode = Literal["gafaelfawr", "tokens"]


@dataclass(frozen=True, slots=True)
class ServiceSettings:
    """Where the configuration comes from: the command line of ``serve``."""

    values_files: tuple[Path, ...]
    secrets_dir: Path
    set_options: tuple[str, ...] = ()
    auth_mode: AuthMode = "gafaelfawr"
    tokens_file: Path | None = None
    access_log: bool = False
    reload_interval: float = 2.0
    """Seconds between checks of the watched files for a change (see server.reload)."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One loaded configuration and everything derived from it."""

    generation: int
    loaded_at: datetime
    config: RepertoireConfig
    discovery: DiscoveryService
    credentials: CredentialsService
    authenticator: Authenticator


class ServiceState:
    """Holder of the current snapshot (replaced whole on reload)."""

    def __init__(self, settings: ServiceSettings, current: Snapshot) -> None:
        self.settings = settings
        self.current = current


def _authenticator(settings: ServiceSettings) -> Authenticator:
    if settings.auth_mode == "gafaelfawr":
        return GafaelfawrAuthenticator()
    if settings.tokens_file is None:
        raise InvalidConfigError(
            [ConfigError("--auth tokens needs --tokens-file", source="command line", path=())]
        )
    try:
        return TokenAuthenticator(load_tokens_file(settings.tokens_file))
    except ConfigError as exc:
        raise InvalidConfigError([exc]) from None


def load_snapshot(settings: ServiceSettings, generation: int) -> Snapshot:
    """Load and validate everything; raise `InvalidConfigError` on any fault."""
    config = load_config(settings.values_files, settings.set_options)
    store = SecretStore(settings.secrets_dir)
    return Snapshot(
        generation=generation,
        loaded_at=datetime.now(UTC),
        config=config,
        discovery=DiscoveryService(config),
        credentials=CredentialsService(config, store),
        authenticator=_authenticator(settings),
    )
