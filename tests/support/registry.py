"""A stand-in Confluent schema registry: a real HTTP server answering ``/subjects``.

There is no Kafka in the test environment; ``repertoire check`` only needs
``GET <registry>/subjects`` to answer 200 with a JSON list, which this tiny
aiohttp server does on a free loopback port. It runs in its own thread with
its own event loop so that both in-process tests and ``repertoire check``
subprocesses (which block the test's loop) can reach it. Under ``/broken/``
it answers 500, for the failing verdict.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from aiohttp import web

__all__ = ["SUBJECTS", "StandInRegistry", "schema_registry"]

SUBJECTS = ["lsst.sal.ATDome.position-value", "lsst.sal.ATDome.logevent_heartbeat-value"]


@dataclass(frozen=True)
class StandInRegistry:
    """Where the stand-in answers."""

    url: str
    """Answers ``/subjects`` with `SUBJECTS`."""

    broken_url: str
    """Answers ``/subjects`` with HTTP 500."""


async def _subjects(_: web.Request) -> web.Response:
    return web.json_response(SUBJECTS, content_type="application/vnd.schemaregistry.v1+json")


async def _broken(_: web.Request) -> web.Response:
    return web.json_response({"error_code": 50001, "message": "Store error"}, status=500)


@pytest.fixture(scope="session")
def schema_registry() -> Iterator[StandInRegistry]:
    """The stand-in registry, for the whole session."""
    app = web.Application()
    app.router.add_get("/subjects", _subjects)
    app.router.add_get("/broken/subjects", _broken)
    runner = web.AppRunner(app, access_log=None)
    loop = asyncio.new_event_loop()
    loop.run_until_complete(runner.setup())
    loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", 0).start())
    port = runner.addresses[0][1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}/"
    try:
        yield StandInRegistry(url=base, broken_url=base + "broken/")
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
