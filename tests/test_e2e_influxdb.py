"""End to end: credentials served by Repertoire really open a real InfluxDB.

Each test runs ``python -m server serve`` as a subprocess on a free port
(``server_factory`` from `tests.support.server`), with a values file pointing
at the session's real ``influxd`` (see `tests.support.influxdb`), a
Kubernetes-style secret directory (see `tests.support.k8s_secrets`) and a
tokens file written by ``python -m server token create``.

Passwords never appear in assertion messages: comparisons that involve one
are reduced to a boolean first.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from rubin.repertoire import DiscoveryClient

from tests.support.contract import checking_httpx_client, checking_middleware
from tests.support.influxdb import (
    DATABASE,
    MEASUREMENT,
    READER_USERNAME,
    SEED_POINTS,
    InfluxCredentials,
    InfluxServer,
    influx_query,
    influx_write,
    seed_line_protocol,
)
from tests.support.k8s_secrets import KubernetesSecretDir
from tests.support.server import RunningServer, run_cli

LABEL = "e2e_efd"
PASSWORD_KEY = f"{LABEL}-password"
SCOPE = "read:sasquatch"
SCHEMA_REGISTRY = "http://127.0.0.1:8081"
SELECT_SEED = f'SELECT * FROM "{MEASUREMENT}" ORDER BY time ASC'  # noqa: S608


@dataclass
class RunningService:
    """A ``repertoire serve`` process serving the session's InfluxDB."""

    server: RunningServer
    token: str = field(repr=False)
    secrets: KubernetesSecretDir

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return self.server.base_url

    @property
    def repertoire_url(self) -> str:
        """Base URL of the Repertoire routes (what ``DiscoveryClient`` wants)."""
        return self.server.base_url + "/repertoire"


def _create_token(tokens_file: Path) -> str:
    """Make a token the way an operator would: ``repertoire token create``."""
    result = run_cli(
        [
            "token",
            "create",
            "--username",
            "e2e-user",
            "--scope",
            SCOPE,
            "--tokens-file",
            str(tokens_file),
        ]
    )
    assert result.returncode == 0, f"token create failed: {result.stderr[-2000:]}"
    token = result.stdout.strip()
    assert token, "token create printed no token"
    return token


@pytest.fixture
def service(
    tmp_path: Path,
    influxdb: InfluxServer,
    server_factory: Callable[..., RunningServer],
) -> RunningService:
    """``repertoire serve`` on a free port, serving the session's InfluxDB as
    `LABEL`, with a Kubernetes-style secret dir and a tokens file in tmp."""
    values = tmp_path / "values-e2e.yaml"
    values.write_text(
        yaml.safe_dump(
            {
                "config": {
                    "influxdbDatabases": {
                        LABEL: {
                            "url": influxdb.url,
                            "database": DATABASE,
                            "username": READER_USERNAME,
                            "passwordKey": PASSWORD_KEY,
                            "schemaRegistry": SCHEMA_REGISTRY,
                            "local": True,
                        }
                    }
                }
            }
        )
    )
    # Kubernetes secret files usually end in a newline the service strips.
    secrets = KubernetesSecretDir(
        tmp_path / "secrets",
        {PASSWORD_KEY: influxdb.passwords[READER_USERNAME] + "\n"},
    )
    tokens_file = tmp_path / "tokens.yaml"
    token = _create_token(tokens_file)
    server = server_factory(
        [
            "--values",
            str(values),
            "--secrets-dir",
            str(secrets.path),
            "--host",
            "127.0.0.1",
            "--auth",
            "tokens",
            "--tokens-file",
            str(tokens_file),
        ]
    )
    return RunningService(server=server, token=token, secrets=secrets)


def _same_secret(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def _expected_rows() -> list[dict[str, Any]]:
    return [
        {
            "time": p.rfc3339,
            "salIndex": str(p.salIndex),
            "azimuthPosition": p.azimuthPosition,
            "dropoutDoorOpeningPercentage": p.dropoutDoorOpeningPercentage,
            "mainDoorOpeningPercentage": p.mainDoorOpeningPercentage,
        }
        for p in SEED_POINTS
    ]


async def _discover_and_fetch(
    session: aiohttp.ClientSession, service: RunningService
) -> dict[str, Any]:
    """Discovery → ``credentials_url`` with the token → credentials JSON."""
    async with session.get(service.repertoire_url + "/discovery") as response:
        assert response.status == 200, await response.text()
        discovery = await response.json()
    entry = discovery["influxdb_databases"][LABEL]
    assert "password" not in entry
    assert "username" not in entry
    credentials_url = entry["credentials_url"]
    assert credentials_url.startswith("http"), credentials_url

    headers = {"Authorization": f"Bearer {service.token}"}
    async with session.get(credentials_url, headers=headers) as response:
        assert response.status == 200, f"credentials: HTTP {response.status}"
        served: dict[str, Any] = await response.json()
    assert set(served) >= {"url", "database", "username", "password"}
    for key in ("url", "database", "schema_registry", "local"):
        assert served[key] == entry[key], key
    return served


def _served_credentials(served: dict[str, Any]) -> InfluxCredentials:
    return InfluxCredentials(served["username"], served["password"])


async def test_discovery_credentials_open_influxdb(
    service: RunningService, influxdb: InfluxServer
) -> None:
    async with aiohttp.ClientSession(middlewares=(checking_middleware(service.url),)) as session:
        served = await _discover_and_fetch(session, service)

    assert served["database"] == DATABASE
    assert served["username"] == READER_USERNAME
    assert served["schema_registry"].rstrip("/") == SCHEMA_REGISTRY
    assert served["local"] is True
    assert _same_secret(served["password"], influxdb.passwords[READER_USERNAME]), (
        "served password differs from the InfluxDB user's (trailing newline?)"
    )

    result = influx_query(
        served["url"],
        SELECT_SEED,
        credentials=_served_credentials(served),
        database=served["database"],
    )
    assert result.status == 200, result.error()
    assert result.error() is None, result.error()
    assert result.rows() == _expected_rows()


async def test_served_reader_cannot_write(service: RunningService, influxdb: InfluxServer) -> None:
    async with aiohttp.ClientSession(middlewares=(checking_middleware(service.url),)) as session:
        served = await _discover_and_fetch(session, service)

    written = influx_write(
        served["url"],
        seed_line_protocol(),
        credentials=_served_credentials(served),
        database=served["database"],
    )
    assert written.status == 403, written.error()
    assert "not authorized" in (written.error() or "")

    # Nothing new was written.
    count = influxdb.query(
        f'SELECT COUNT("azimuthPosition") FROM "{MEASUREMENT}"',  # noqa: S608
        database=DATABASE,
    )
    assert count.rows()[0]["count"] == len(SEED_POINTS)


async def test_rotation_is_served_on_the_next_request(
    service: RunningService, influxdb: InfluxServer
) -> None:
    async with aiohttp.ClientSession(middlewares=(checking_middleware(service.url),)) as session:
        before = _served_credentials(await _discover_and_fetch(session, service))
        assert influxdb.can_log_in(before)
        old_target = service.secrets.current_target()

        # Rotate: InfluxDB first, then the secret, the way an operator
        # (or Vault → Secret → kubelet) would.
        rotated = influxdb.set_password(READER_USERNAME)
        assert not influxdb.can_log_in(before), "old password still works"
        service.secrets.update({PASSWORD_KEY: rotated.password + "\n"})
        assert service.secrets.current_target() != old_target
        assert (service.secrets.path / PASSWORD_KEY).is_symlink()

        after = _served_credentials(await _discover_and_fetch(session, service))

    assert not _same_secret(after.password, before.password), (
        "the next credentials response still served the old password"
    )
    assert _same_secret(after.password, rotated.password), (
        "the served password is not the rotated one"
    )
    assert influxdb.can_log_in(after), "the served (rotated) password cannot log in"
    assert not influxdb.can_log_in(before), "the old password still logs in"

    result = influx_query(influxdb.url, SELECT_SEED, credentials=after, database=DATABASE)
    assert result.status == 200, result.error()
    assert result.rows() == _expected_rows()


async def test_published_client_flow(service: RunningService, influxdb: InfluxServer) -> None:
    async with checking_httpx_client() as http_client:
        client = DiscoveryClient(http_client, base_url=service.repertoire_url)
        assert LABEL in await client.influxdb_databases()
        assert LABEL in await client.influxdb_databases(local=True)
        info = await client.influxdb_connection_info(LABEL)
        assert info is not None
        assert info.database == DATABASE
        credentials = await client.influxdb_credentials(LABEL, service.token)

    assert credentials is not None
    assert credentials.username == READER_USERNAME
    assert credentials.database == DATABASE
    assert credentials.local is True
    assert credentials.password is not None
    served = InfluxCredentials(credentials.username, credentials.password.get_secret_value())
    assert _same_secret(served.password, influxdb.passwords[READER_USERNAME]), (
        "the client got a password other than the InfluxDB user's"
    )
    result = influx_query(
        str(credentials.url),
        SELECT_SEED,
        credentials=served,
        database=credentials.database,
    )
    assert result.status == 200, result.error()
    assert result.rows() == _expected_rows()
