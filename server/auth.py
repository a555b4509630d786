"""Who is calling a protected route, and may they have credentials.

Two modes: ``gafaelfawr`` trusts the platform's auth ingress, which has
already enforced the scope and passes the user in ``X-Auth-Request-User``;
``tokens`` checks bearer tokens against a file that stores only their hashes.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import yaml
from aiohttp import web

from server.exceptions import (
    AuthenticationError,
    ConfigError,
    InsufficientScopeError,
)
from server.values import read_yaml

__all__ = [
    "Authenticator",
    "GafaelfawrAuthenticator",
    "Identity",
    "TokenAuthenticator",
    "TokenEntry",
    "create_token",
    "hash_token",
    "load_tokens_file",
]

_REALM = 'Bearer realm="repertoire"'
_HASH_PREFIX = "sha256:"


@dataclass(frozen=True, slots=True)
class Identity:
    """An authenticated caller."""

    username: str


@dataclass(frozen=True, slots=True)
class TokenEntry:
    """One line of the tokens file: a token hash and what it grants."""

    token_hash: str
    username: str
    scopes: frozenset[str]

    @property
    def identity(self) -> Identity:
        """The caller this token authenticates."""
        return Identity(username=self.username)


class Authenticator(Protocol):
    """Checks a request against the scope a protected route requires."""

    def authenticate(self, request: web.Request, scope: str) -> Identity:
        """Return the caller, or raise `AuthenticationError`/`InsufficientScopeError`."""
        ...


class GafaelfawrAuthenticator:
    """Trust the ingress: it enforced the scope and names the user."""

    def authenticate(self, request: web.Request, scope: str) -> Identity:
        """Return the user named by the ingress, or 401 when it named none."""
        username = request.headers.get("X-Auth-Request-User", "").strip()
        if not username:
            raise AuthenticationError(
                "Not authenticated: no X-Auth-Request-User header from the auth ingress",
                loc=("header", "X-Auth-Request-User"),
            )
        return Identity(username=username)


def hash_token(token: str) -> str:
    """The form in which a token is stored: never the token itself.

    Header values carry undecodable bytes as surrogates; those hash as the
    raw bytes (matching no token) rather than failing.
    """
    return _HASH_PREFIX + hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


class TokenAuthenticator:
    """Bearer tokens checked against hashed entries."""

    def __init__(self, entries: Mapping[str, TokenEntry]) -> None:
        self._entries = dict(entries)
        # Made once per tokens file: a request only looks its caller up.
        self._identities = {h: entry.identity for h, entry in self._entries.items()}

    def authenticate(self, request: web.Request, scope: str) -> Identity:
        """Return the token's user if it holds ``scope``; 401 or 403 if not."""
        header = request.headers.get("Authorization", "")
        auth_type, _, token = header.partition(" ")
        token = token.strip()
        if not header:
            raise AuthenticationError(
                "Not authenticated: send Authorization: Bearer <token>",
                loc=("header", "Authorization"),
                headers={"WWW-Authenticate": _REALM},
            )
        if auth_type.lower() != "bearer" or not token:
            raise AuthenticationError(
                "Invalid Authorization header: expected Bearer <token>",
                loc=("header", "Authorization"),
                headers={"WWW-Authenticate": f'{_REALM}, error="invalid_request"'},
            )
        entry = self._entries.get(hash_token(token))
        if entry is None:
            raise AuthenticationError(
                "Invalid token",
                loc=("header", "Authorization"),
                headers={"WWW-Authenticate": f'{_REALM}, error="invalid_token"'},
            )
        if scope not in entry.scopes:
            raise InsufficientScopeError(
                f"Token does not have the required scope {scope}",
                loc=("header", "Authorization"),
                headers={
                    "WWW-Authenticate": (f'{_REALM}, error="insufficient_scope", scope="{scope}"')
                },
            )
        return self._identities[entry.token_hash]


def load_tokens_file(path: Path) -> dict[str, TokenEntry]:
    """Read the tokens file; every fault is a `ConfigError` naming file and key."""
    document = read_yaml(path)
    source = str(path)
    if document is None:
        return {}
    tokens = document.get("tokens") if isinstance(document, Mapping) else None
    if not isinstance(tokens, list):
        raise ConfigError(
            "must be a list of {hash, username, scopes}", source=source, path=("tokens",)
        )
    entries: dict[str, TokenEntry] = {}
    for index, item in enumerate(tokens):
        where = ("tokens", index)
        if not isinstance(item, Mapping):
            raise ConfigError("must be a mapping", source=source, path=where)
        token_hash, username, scopes = item.get("hash"), item.get("username"), item.get("scopes")
        if not isinstance(token_hash, str) or not token_hash.startswith(_HASH_PREFIX):
            raise ConfigError(
                f"must be a string starting with {_HASH_PREFIX}",
                source=source,
                path=(*where, "hash"),
            )
        if not isinstance(username, str) or not username:
            raise ConfigError(
                "must be a non-empty string", source=source, path=(*where, "username")
            )
        if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
            raise ConfigError(
                "must be a list of scope strings", source=source, path=(*where, "scopes")
            )
        entries[token_hash] = TokenEntry(token_hash, username, frozenset(scopes))
    return entries


def create_token(tokens_file: Path, username: str, scopes: list[str]) -> str:
    """Generate a token, add its hashed entry to ``tokens_file``, return it.

    The existing file is validated first, so a malformed one is reported
    rather than silently rewritten; the new file (mode 0600) replaces the old
    one atomically, so a running server never reads it half-written.
    """
    document: dict[str, list[dict[str, object]]] = {"tokens": []}
    if tokens_file.exists():
        document["tokens"] = [
            {"hash": e.token_hash, "username": e.username, "scopes": sorted(e.scopes)}
            for e in load_tokens_file(tokens_file).values()
        ]
    token = "rpt-" + secrets.token_urlsafe(32)
    document["tokens"].append({"hash": hash_token(token), "username": username, "scopes": scopes})
    temporary = tokens_file.with_name(f".{tokens_file.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        yaml.safe_dump(document, handle, default_flow_style=False, sort_keys=False)
    temporary.replace(tokens_file)
    return token
