"""Readiness and live reload: SIGHUP and file changes, without losing a request."""

from __future__ import annotations

import asyncio
import copy
import logging
import os
import signal
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.pytest_plugin import AiohttpClient

from server.app import create_app
from server.auth import create_token
from server.handlers import get_readiness
from server.middleware import error_middleware
from tests.conftest import (
    EFD_PASSWORD,
    REMOTE_PASSWORD,
    SCOPE,
    STANDARD_VALUES,
    Deployment,
    write_values,
)
from tests.support.contract import ContractClient, checking_middleware
from tests.support.server import RunningServer

READY = "/repertoire/health/ready"
DISCOVERY = "/repertoire/discovery"
NEW_PASSWORD = "new-reader-Pa55word"


def with_database(label: str, description: str | None = None) -> dict[str, Any]:
    """The standard values plus one more database."""
    values = copy.deepcopy(STANDARD_VALUES)
    values["config"]["influxdbDatabases"][label] = {
        "url": "http://new.example.org:8086",
        "database": "efd",
        "username": "reader",
        "passwordKey": f"{label}-password",
        "schemaRegistry": "http://new.example.org:8081",
        **({"description": description} if description else {}),
    }
    return values


def replace_values(path: Path, values: dict[str, Any]) -> None:
    """Swap in a new values file in one rename, as Kubernetes updates a ConfigMap."""
    write_values(path.with_name(f".{path.name}.new"), values).replace(path)


async def eventually(condition: Callable[[], Awaitable[bool]]) -> None:
    """Wait up to 10 s until ``condition`` holds (the reloader polls in the background)."""
    deadline = time.monotonic() + 10
    while not await condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


@pytest.fixture
async def live(aiohttp_client: AiohttpClient, deployment: Deployment) -> ContractClient:
    """The standard deployment in-process, polling its files every 50 ms."""
    app = create_app(deployment.settings(reload_interval=0.05))
    return ContractClient(await aiohttp_client(app))


async def test_readiness_reports_generation_and_secrets(api: ContractClient) -> None:
    response = await api.get(READY)
    assert response.status == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json()
    loaded_at = datetime.fromisoformat(body.pop("loaded_at"))
    assert datetime.now(UTC) - loaded_at < timedelta(minutes=1)
    assert body == {
        "status": "ready",
        "generation": 1,
        "databases": {
            "remote_efd": {"secret_present": True, "secret_readable": True},
            "test_efd": {"secret_present": True, "secret_readable": True},
        },
    }
    assert EFD_PASSWORD.encode() not in response.body


async def test_readiness_names_missing_and_empty_secrets(
    api: ContractClient, deployment: Deployment
) -> None:
    deployment.secrets.update({"test_efd-password": "\n"})
    body = (await api.get(READY)).json()
    assert body["status"] == "degraded"
    assert body["databases"] == {
        "remote_efd": {
            "secret_present": False,
            "secret_readable": False,
            "problem": "file not found",
        },
        "test_efd": {"secret_present": True, "secret_readable": False, "problem": "file is empty"},
    }


async def test_readiness_without_configuration_is_503(aiohttp_client: AiohttpClient) -> None:
    app = web.Application(middlewares=[error_middleware])
    app.router.add_get(READY, get_readiness)
    response = await ContractClient(await aiohttp_client(app)).get(READY)
    assert response.status == 503
    assert response.json()["detail"][0]["type"] == "not_ready"


async def test_added_database_appears_without_restart(
    live: ContractClient, deployment: Deployment
) -> None:
    assert "new_efd" not in (await live.get(DISCOVERY)).json()["influxdb_databases"]
    deployment.secrets.update(
        {
            "test_efd-password": EFD_PASSWORD,
            "remote_efd-password": REMOTE_PASSWORD,
            "new_efd-password": NEW_PASSWORD,
        }
    )
    replace_values(deployment.values, with_database("new_efd"))

    async def served() -> bool:
        return "new_efd" in (await live.get(DISCOVERY)).json()["influxdb_databases"]

    await eventually(served)
    credentials = await live.get("/repertoire/discovery/influxdb/new_efd", deployment.bearer())
    assert credentials.json()["password"] == NEW_PASSWORD
    assert (await live.get(READY)).json()["generation"] >= 2


async def test_broken_edit_keeps_the_last_good_document(
    live: ContractClient, deployment: Deployment, caplog: pytest.LogCaptureFixture
) -> None:
    before = await live.get(DISCOVERY)
    broken = copy.deepcopy(STANDARD_VALUES)
    broken["config"]["influxdbDatabases"]["test_efd"]["url"] = "ftp://influx.example.org/"
    with caplog.at_level(logging.ERROR, logger="repertoire.reload"):
        replace_values(deployment.values, broken)

        async def logged() -> bool:
            return any(r.name == "repertoire.reload" for r in caplog.records)

        await eventually(logged)
    record = next(r for r in caplog.records if r.name == "repertoire.reload")
    assert record.__dict__["file"] == str(deployment.values)
    assert record.__dict__["key"] == "config.influxdbDatabases.test_efd.url"
    assert "still serving generation 1" in record.getMessage()
    after = await live.get(DISCOVERY)
    assert (after.body, after.headers["ETag"]) == (before.body, before.headers["ETag"])
    assert (await live.get(READY)).json()["generation"] == 1


async def test_path_prefix_change_needs_a_restart(
    live: ContractClient, deployment: Deployment, caplog: pytest.LogCaptureFixture
) -> None:
    moved = copy.deepcopy(STANDARD_VALUES)
    moved["config"]["pathPrefix"] = "/elsewhere"
    with caplog.at_level(logging.ERROR, logger="repertoire.reload"):
        replace_values(deployment.values, moved)

        async def logged() -> bool:
            return any("needs a restart" in r.getMessage() for r in caplog.records)

        await eventually(logged)
    assert (await live.get(READY)).json()["generation"] == 1


async def test_new_token_works_without_restart(
    live: ContractClient, deployment: Deployment
) -> None:
    token = create_token(deployment.tokens_file, "carol", [SCOPE])

    async def accepted() -> bool:
        response = await live.get("/repertoire/discovery/influxdb", deployment.bearer(token))
        return response.status == 200

    await eventually(accepted)


async def _generation(session: aiohttp.ClientSession, server: RunningServer) -> int:
    async with session.get(server.base_url + READY) as response:
        generation: int = (await response.json())["generation"]
        return generation


async def _discovery(
    session: aiohttp.ClientSession, server: RunningServer
) -> tuple[int, str, bytes]:
    async with session.get(server.base_url + DISCOVERY) as response:
        return response.status, response.headers["ETag"], await response.read()


async def test_sighup_reloads_and_etag_follows_content(
    server_factory: Callable[..., RunningServer], deployment: Deployment
) -> None:
    server = server_factory([*deployment.cli_args(), "--reload-interval", "600"])
    async with aiohttp.ClientSession(
        middlewares=(checking_middleware(server.base_url),)
    ) as session:
        _, etag, body = await _discovery(session, server)
        os.kill(server.process.pid, signal.SIGHUP)

        async def reloaded(generation: int) -> bool:
            return await _generation(session, server) == generation

        await eventually(lambda: reloaded(2))
        assert (await _discovery(session, server))[1:] == (etag, body)
        replace_values(deployment.values, with_database("new_efd", "Added by SIGHUP"))
        os.kill(server.process.pid, signal.SIGHUP)
        await eventually(lambda: reloaded(3))
        _, new_etag, new_body = await _discovery(session, server)
    assert new_etag != etag
    assert b"Added by SIGHUP" in new_body
    assert "Configuration reloaded (SIGHUP): generation 3" in server.log()


async def test_1000_requests_across_a_reload_all_succeed(
    server_factory: Callable[..., RunningServer], deployment: Deployment
) -> None:
    server = server_factory([*deployment.cli_args(), "--reload-interval", "0.05"])
    results: list[tuple[int, str, bytes]] = []
    limit = asyncio.Semaphore(50)
    async with aiohttp.ClientSession(
        middlewares=(checking_middleware(server.base_url),)
    ) as session:
        _, old_etag, _ = await _discovery(session, server)

        async def one() -> None:
            async with limit:
                results.append(await _discovery(session, server))

        async def reload_midway() -> None:
            await eventually(lambda: asyncio.sleep(0, len(results) >= 200))
            replace_values(deployment.values, with_database("new_efd"))
            os.kill(server.process.pid, signal.SIGHUP)

        await asyncio.gather(reload_midway(), *(one() for _ in range(1000)))
        generation = await _generation(session, server)
    assert len(results) == 1000
    assert {status for status, _, _ in results} == {200}
    etags = [etag for _, etag, _ in results]
    assert etags[0] == old_etag
    assert len(set(etags)) == 2, "the reload did not happen while requests were running"
    assert all(b"new_efd" in body for _, etag, body in results if etag != old_etag)
    assert generation >= 2
