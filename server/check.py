"""``repertoire check``: probe every database the service hands out, live.

A configuration can be valid and still fail its users: a rotated password no
longer matching InfluxDB, a read/write user served where a read-only one was
meant, a schema registry that is down. Each database gets four probes, all
run concurrently with a short timeout so that one dead host cannot stall the
report. Passwords go into an ``Authorization`` header only; no output, log
line or error message carries one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import aiohttp

from server.config import load_config
from server.secrets import SecretStore, SecretUnreadableError

__all__ = [
    "DatabaseReport",
    "Probe",
    "Target",
    "UnusableInputError",
    "add_parser",
    "check_targets",
    "run",
    "targets_from_config",
    "targets_from_service",
]

Status = Literal["ok", "warning", "fail"]

EXIT_FAILED = 1
"""Exit code when at least one database fails a probe."""

TOKEN_ENV = "REPERTOIRE_TOKEN"  # noqa: S105 (the name of a variable, not a token)
"""Environment variable holding the bearer token for ``--url``."""

_RANK: dict[Status, int] = {"ok": 0, "warning": 1, "fail": 2}


class UnusableInputError(Exception):
    """The databases to probe cannot be determined (exit 2)."""


@dataclass(frozen=True, slots=True)
class Target:
    """One database as a client would receive it."""

    label: str
    url: str
    database: str
    username: str
    schema_registry: str
    password: str | None = field(default=None, repr=False)
    password_problem: str | None = None
    """Why there is no password (e.g. its secret file is missing)."""


@dataclass(frozen=True, slots=True)
class Probe:
    """The outcome of one probe."""

    name: str
    status: Status
    detail: str


@dataclass(frozen=True, slots=True)
class DatabaseReport:
    """All probes of one database."""

    target: Target
    probes: tuple[Probe, ...]

    @property
    def verdict(self) -> Status:
        """The worst probe status."""
        return max((p.status for p in self.probes), key=_RANK.__getitem__, default="ok")

    def as_dict(self) -> dict[str, Any]:
        """The JSON form (without the password)."""
        return {
            "label": self.target.label,
            "url": self.target.url,
            "database": self.target.database,
            "username": self.target.username,
            "schema_registry": self.target.schema_registry,
            "verdict": self.verdict,
            "probes": {p.name: {"status": p.status, "detail": p.detail} for p in self.probes},
        }


def _endpoint(base: str, path: str) -> str:
    return base.rstrip("/") + "/" + path


def _auth(target: Target) -> aiohttp.BasicAuth:
    assert target.password is not None
    return aiohttp.BasicAuth(target.username, target.password)


async def _guarded(name: str, probe: Awaitable[Probe], request_timeout: float) -> Probe:
    """Turn network failures into a failing probe that names no secret."""
    try:
        return await probe
    except TimeoutError:
        return Probe(name, "fail", f"no answer within {request_timeout:g}s")
    except aiohttp.ClientConnectorError as exc:
        return Probe(name, "fail", f"cannot connect to {exc.host}:{exc.port}: {exc.strerror}")
    except aiohttp.ClientError as exc:
        return Probe(name, "fail", f"{type(exc).__name__}: {exc}")


async def _influx_error(response: aiohttp.ClientResponse) -> str:
    try:
        body = await response.json(content_type=None)
    except ValueError:
        return f"HTTP {response.status}"
    message = body.get("error") if isinstance(body, Mapping) else None
    return f"HTTP {response.status}: {message}" if message else f"HTTP {response.status}"


async def _ping(session: aiohttp.ClientSession, target: Target) -> Probe:
    async with session.get(_endpoint(target.url, "ping")) as response:
        if response.status // 100 == 2:
            return Probe("reachable", "ok", f"/ping answered {response.status}")
        return Probe("reachable", "fail", f"/ping answered {await _influx_error(response)}")


def _databases_listed(body: Any) -> list[str]:
    names: list[str] = []
    for result in body.get("results", []) if isinstance(body, Mapping) else []:
        for series in result.get("series", []):
            names.extend(str(row[0]) for row in series.get("values", []) if row)
    return names


async def _credentials(session: aiohttp.ClientSession, target: Target) -> Probe:
    name = "credentials"
    if target.password is None:
        return Probe(name, "fail", f"no password: {target.password_problem}")
    async with session.get(_endpoint(target.url, "query"), params={"q": "SHOW DATABASES"},
                           auth=_auth(target)) as response:
        if response.status == 401:
            return Probe(name, "fail", f"{target.username}: authentication failed"
                         " (wrong password, or no such user)")
        if response.status != 200:
            return Probe(name, "fail", f"SHOW DATABASES: {await _influx_error(response)}")
        listed = _databases_listed(await response.json(content_type=None))
    if target.database not in listed:
        return Probe(name, "fail", f"{target.username} logs in but cannot read"
                     f" {target.database} (not in SHOW DATABASES)")
    return Probe(name, "ok", f"{target.username} can read {target.database}")


async def _read_only(session: aiohttp.ClientSession, target: Target) -> Probe:
    """An empty write: 403 for a read-only user, 204 (and nothing stored) for a writer."""
    name = "read-only"
    if target.password is None:
        return Probe(name, "fail", "not probed: no password")
    async with session.post(_endpoint(target.url, "write"), params={"db": target.database},
                            data=b"", auth=_auth(target)) as response:
        if response.status == 403:
            return Probe(name, "ok", "write refused (HTTP 403)")
        if response.status // 100 == 2:
            return Probe(name, "warning", f"{target.username} can write to {target.database};"
                         " every holder of the credentials scope receives this access")
        return Probe(name, "fail", f"write probe: {await _influx_error(response)}")


async def _registry(session: aiohttp.ClientSession, target: Target) -> Probe:
    name = "schema registry"
    async with session.get(_endpoint(target.schema_registry, "subjects")) as response:
        if response.status != 200:
            return Probe(name, "fail", f"/subjects answered HTTP {response.status}")
        try:
            subjects = await response.json(content_type=None)
        except ValueError:
            subjects = None
    if not isinstance(subjects, list):
        return Probe(name, "fail", "/subjects did not answer a JSON list")
    return Probe(name, "ok", f"{len(subjects)} subject(s)")


async def _check_one(session: aiohttp.ClientSession, target: Target,
                     request_timeout: float) -> DatabaseReport:
    probes = await asyncio.gather(
        _guarded("reachable", _ping(session, target), request_timeout),
        _guarded("credentials", _credentials(session, target), request_timeout),
        _guarded("read-only", _read_only(session, target), request_timeout),
        _guarded("schema registry", _registry(session, target), request_timeout),
    )
    return DatabaseReport(target, tuple(probes))


async def check_targets(targets: Sequence[Target],
                        request_timeout: float) -> list[DatabaseReport]:
    """Probe every target concurrently; each request gives up after ``request_timeout``."""
    client_timeout = aiohttp.ClientTimeout(total=request_timeout)
    async with aiohttp.ClientSession(timeout=client_timeout) as session:
        return list(await asyncio.gather(
            *(_check_one(session, t, request_timeout) for t in targets)
        ))


def targets_from_config(values: Sequence[Path], set_options: Sequence[str],
                        secrets_dir: Path) -> list[Target]:
    """The databases of a configuration, with passwords from the secrets directory."""
    config = load_config(values, set_options)
    store = SecretStore(secrets_dir)
    targets = []
    for label, database in sorted(config.influxdb_databases.items()):
        password, problem = None, None
        try:
            password = store.read(database.password_key)
        except SecretUnreadableError as exc:
            problem = f"secret {database.password_key} {exc.reason}"
        targets.append(Target(label, database.url, database.database, database.username,
                              database.schema_registry, password, problem))
    return targets


async def targets_from_service(url: str, token: str,
                               request_timeout: float) -> list[Target]:
    """The databases a running service hands to a holder of ``token``."""
    endpoint = _endpoint(url, "discovery/influxdb")
    try:
        async with aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=request_timeout)
        ) as session:
            headers = {"Authorization": f"Bearer {token}"}
            async with session.get(endpoint, headers=headers) as response:
                if response.status != 200:
                    raise UnusableInputError(
                        f"{endpoint} answered HTTP {response.status}: {await response.text()}"
                    )
                body = await response.json()
        return [
            Target(label, item["url"], item["database"], item["username"],
                   item["schema_registry"], item["password"])
            for label, item in sorted(body.items())
        ]
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise UnusableInputError(f"cannot fetch {endpoint}: {exc!r}") from None
    except (AttributeError, KeyError, TypeError):
        raise UnusableInputError(f"{endpoint} did not answer credentials by label") from None


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The ``check`` subcommand."""
    parser = subparsers.add_parser(
        "check",
        help="probe every database live: reachable, credentials, read-only, registry",
        description="Probe each InfluxDB database of a configuration (--values and"
        " --secrets-dir) or of a running service (--url, with the token in"
        f" --token-file or ${TOKEN_ENV}). Exit 1 when any database fails.",
    )
    parser.add_argument("--values", action="append", type=Path, default=[], metavar="FILE")
    parser.add_argument("--set", action="append", default=[], dest="set_options",
                        metavar="KEY=VALUE")
    parser.add_argument("--secrets-dir", type=Path, metavar="DIR")
    parser.add_argument("--url", help="base URL of a running service, e.g."
                        " https://host/repertoire")
    parser.add_argument("--token-file", type=Path, metavar="FILE",
                        help=f"file holding the bearer token (default: ${TOKEN_ENV})")
    parser.add_argument("--timeout", type=float, default=5.0, metavar="SECONDS",
                        help="per-request timeout (default 5)")
    parser.add_argument("--format", choices=["table", "json"], default="table")


def _token(args: argparse.Namespace) -> str:
    token_file: Path | None = args.token_file
    if token_file is not None:
        try:
            token = token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise UnusableInputError(f"cannot read {token_file}: {exc.strerror}") from None
    else:
        token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        raise UnusableInputError(f"--url needs a token in --token-file or ${TOKEN_ENV}")
    return token


async def _targets(args: argparse.Namespace) -> list[Target]:
    if args.url is not None:
        if args.values or args.secrets_dir is not None:
            raise UnusableInputError("give either --url or --values with --secrets-dir")
        return await targets_from_service(args.url, _token(args), args.timeout)
    if not args.values or args.secrets_dir is None:
        raise UnusableInputError("give --values and --secrets-dir, or --url")
    return targets_from_config(args.values, args.set_options, args.secrets_dir)


def render_table(reports: Sequence[DatabaseReport]) -> str:
    """One row per probe, then one verdict line per database."""
    rows = [("DATABASE", "PROBE", "RESULT", "DETAIL")]
    rows += [(r.target.label, p.name, p.status, p.detail) for r in reports for p in r.probes]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True))
             + "  " + row[3] for row in rows]
    lines.append("")
    lines += [f"{r.target.label}: {r.verdict} ({r.target.username} @ {r.target.url})"
              for r in reports]
    return "\n".join(lines) + "\n"


async def _run(args: argparse.Namespace) -> int:
    reports = await check_targets(await _targets(args), args.timeout)
    if args.format == "json":
        document = {"databases": [r.as_dict() for r in reports],
                    "ok": all(r.verdict != "fail" for r in reports)}
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
    else:
        sys.stdout.write(render_table(reports))
    return EXIT_FAILED if any(r.verdict == "fail" for r in reports) else 0


def run(args: argparse.Namespace) -> int:
    """Run ``check``; unusable input raises (exit 2)."""
    return asyncio.run(_run(args))
