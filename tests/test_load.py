"""Load and soak: a real server process under concurrent and hostile traffic.

Each test drives ``python -m server serve`` (see `tests.support.server`) over
loopback, with aiohttp's client or raw sockets, because only a real process
shows what 200 simultaneous connections, a secret rotated underneath the
server, or a malformed request line really do. Passwords never appear in
assertion messages: bodies are compared, and only route names are reported.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field, replace

import aiohttp

from tests.conftest import Deployment
from tests.support.server import RunningServer

REQUESTS = 50_000
CONCURRENCY = 200
ROTATION_INTERVAL = 0.1
NEW_PASSWORD_DEADLINE = 1.0
DISCOVERY = "/repertoire/discovery"
LABELS = ("test_efd", "remote_efd")

ServerFactory = Callable[[Sequence[str]], RunningServer]
Check = Callable[[int, bytes, int], bool]
"""Whether ``(status, body, generation when sent)`` is a right answer."""


@dataclass(frozen=True)
class Probe:
    """One kind of request in the mix and how to judge its answer."""

    name: str
    path: str
    headers: Mapping[str, str]
    expected: bytes
    check: Check


@dataclass
class Tally:
    """What a load run saw: statuses, connection errors, wrong bodies by route."""

    statuses: Counter[int] = field(default_factory=Counter)
    connection_errors: list[str] = field(default_factory=list)
    wrong: Counter[str] = field(default_factory=Counter)

    @property
    def server_errors(self) -> int:
        """Responses with a 5xx status."""
        return sum(n for status, n in self.statuses.items() if status >= 500)


def _exactly(status: int, body: bytes) -> Check:
    return lambda got_status, got_body, _: got_status == status and got_body == body


async def _fetch(
    session: aiohttp.ClientSession, url: str, headers: Mapping[str, str] | None = None
) -> tuple[int, bytes]:
    async with session.get(url, headers=headers) as response:
        return response.status, await response.read()


async def _drive(
    server: RunningServer,
    probes: Sequence[Probe],
    total: int = REQUESTS,
    generation: Callable[[], int] = lambda: 0,
) -> Tally:
    """Send ``total`` requests cycling through ``probes`` on CONCURRENCY connections."""
    tally = Tally()
    indices: Iterator[int] = iter(range(total))
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    timeout = aiohttp.ClientTimeout(total=60)

    async def worker(session: aiohttp.ClientSession) -> None:
        while (index := next(indices, None)) is not None:
            probe = probes[index % len(probes)]
            sent = generation()
            try:
                status, body = await _fetch(session, server.base_url + probe.path, probe.headers)
            except (aiohttp.ClientError, TimeoutError) as exc:
                tally.connection_errors.append(f"{probe.name}: {type(exc).__name__}")
                continue
            tally.statuses[status] += 1
            if not probe.check(status, body, sent):
                tally.wrong[probe.name] += 1

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(*(worker(session) for _ in range(CONCURRENCY)))
    return tally


def _assert_clean(tally: Tally, total: int = REQUESTS) -> None:
    assert tally.connection_errors == [], Counter(tally.connection_errors)
    assert tally.server_errors == 0, tally.statuses
    assert dict(tally.wrong) == {}, "bodies differ from the expected ones"
    assert sum(tally.statuses.values()) == total


async def _reference_probes(server: RunningServer, deployment: Deployment) -> list[Probe]:
    """The mix: discovery, credentials of both databases, and two kinds of 404.

    Expected bodies are taken from one quiet request each before the load,
    after checking they are the right kind of answer.
    """
    bearer = deployment.bearer()
    requests = {
        "discovery": (DISCOVERY, {}, 200),
        "credentials test_efd": (f"{DISCOVERY}/influxdb/test_efd", bearer, 200),
        "credentials remote_efd": (f"{DISCOVERY}/influxdb/remote_efd", bearer, 200),
        "unknown route": ("/repertoire/nosuch", {}, 404),
        "unknown database": (f"{DISCOVERY}/influxdb/nosuch", bearer, 404),
    }
    probes: list[Probe] = []
    async with aiohttp.ClientSession() as session:
        for name, (path, headers, status) in requests.items():
            got_status, body = await _fetch(session, server.base_url + path, headers)
            assert got_status == status, name
            assert json.loads(body), name
            probes.append(Probe(name, path, headers, body, _exactly(status, body)))
    weights = {"discovery": 3, "unknown route": 1, "unknown database": 1}
    return [probe for probe in probes for _ in range(weights.get(probe.name, 2))]


async def test_mixed_load_has_no_errors_and_exact_bodies(
    server_factory: ServerFactory, deployment: Deployment
) -> None:
    """50,000 requests over 200 connections: no 5xx, no drops, identical bodies."""
    server = server_factory(deployment.cli_args())
    probes = await _reference_probes(server, deployment)

    tally = await _drive(server, probes)

    _assert_clean(tally)
    assert tally.statuses[404] > 0
    assert server.process.poll() is None


def _secret_data(generation: int) -> dict[str, str]:
    return {
        "test_efd-password": f"efd-rotated-{generation:06d}\n",
        "remote_efd-password": f"remote-rotated-{generation:06d}",
    }


def _password(label: str, generation: int) -> str:
    key = "test_efd-password" if label == "test_efd" else "remote_efd-password"
    return _secret_data(generation)[key].removesuffix("\n")


@dataclass
class Rotor:
    """Rotates the secret directory the way the kubelet does, counting swaps."""

    deployment: Deployment
    generation: int = 0

    def swap(self) -> None:
        """Project the next generation of passwords with one atomic rename."""
        self.generation += 1
        self.deployment.secrets.update(_secret_data(self.generation))

    async def run(self, stop: asyncio.Event) -> None:
        """Swap every ROTATION_INTERVAL until told to stop."""
        while not stop.is_set():
            await asyncio.sleep(ROTATION_INTERVAL)
            self.swap()


def _rotating_check(template: bytes, label: str, rotor: Rotor) -> Check:
    """Right if the body is exactly the one for a password current during the request.

    ``template`` carries generation 0's password; the server read the file
    somewhere between the send (``sent``) and now, so only generations in
    that window are acceptable: never an older one, a partial or an empty one.
    """
    marker = json.dumps(_password(label, 0)).encode()

    def check(status: int, body: bytes, sent: int) -> bool:
        if status != 200:
            return False
        return any(
            body == template.replace(marker, json.dumps(_password(label, g)).encode())
            for g in range(sent, rotor.generation + 1)
        )

    return check


async def test_load_while_secret_rotates_serves_old_or_new_password(
    server_factory: ServerFactory, deployment: Deployment
) -> None:
    """Rotation every 100 ms under load; after the last swap the new one within 1 s."""
    rotor = Rotor(deployment)
    deployment.secrets.update(_secret_data(0))
    server = server_factory(deployment.cli_args())
    probes = [
        replace(probe, check=_rotating_check(probe.expected, probe.name.split()[1], rotor))
        if probe.name.startswith("credentials")
        else probe
        for probe in await _reference_probes(server, deployment)
    ]

    stop = asyncio.Event()
    rotation = asyncio.create_task(rotor.run(stop))
    try:
        tally = await _drive(server, probes, generation=lambda: rotor.generation)
    finally:
        stop.set()
        await rotation

    _assert_clean(tally)
    assert rotor.generation >= 20, "the load ended before the secret rotated much"
    await _assert_last_swap_served_promptly(server, deployment, rotor)


async def _assert_last_swap_served_promptly(
    server: RunningServer, deployment: Deployment, rotor: Rotor
) -> None:
    rotor.swap()
    swapped = time.monotonic()
    url = f"{server.base_url}{DISCOVERY}/influxdb/test_efd"
    expected = _password("test_efd", rotor.generation)
    async with aiohttp.ClientSession() as session:
        while True:
            status, body = await _fetch(session, url, deployment.bearer())
            served_new = status == 200 and json.loads(body)["password"] == expected
            elapsed = time.monotonic() - swapped
            if served_new:
                break
            assert elapsed < NEW_PASSWORD_DEADLINE, "new password not served within 1 s"
            await asyncio.sleep(0.01)
        status, body = await _fetch(session, url, deployment.bearer())
    assert elapsed < NEW_PASSWORD_DEADLINE
    assert status == 200
    assert json.loads(body)["password"] == expected, "old password served after the new"


async def _raw_status(port: int, data: bytes) -> int | None:
    """Send raw bytes on a fresh connection; the response status, or None after 5 s.

    A connection closed without any response counts as status 0.
    """
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        async with asyncio.timeout(5):
            line = await reader.readline()
    except TimeoutError:
        return None
    finally:
        writer.close()
        with suppress(ConnectionError):
            await writer.wait_closed()
    return int(line.split()[1]) if line.startswith(b"HTTP/1.") else 0


@dataclass
class SteadyTraffic:
    """Well-formed discovery requests sent in a loop beside the hostile ones."""

    answered: int = 0
    failures: list[str] = field(default_factory=list)
    slowest: float = 0.0

    async def run(self, server: RunningServer, expected: bytes, stop: asyncio.Event) -> None:
        """Request discovery until ``stop``; record failures and the slowest answer."""
        timeout = aiohttp.ClientTimeout(total=5)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while not stop.is_set():
                started = time.monotonic()
                try:
                    status, body = await _fetch(session, server.base_url + DISCOVERY)
                except (aiohttp.ClientError, TimeoutError) as exc:
                    self.failures.append(type(exc).__name__)
                    continue
                self.slowest = max(self.slowest, time.monotonic() - started)
                if status != 200 or body != expected:
                    self.failures.append(f"status {status}")
                self.answered += 1
                await asyncio.sleep(0.005)


async def _slowloris(port: int, seconds: float) -> int | None:
    """Trickle one header byte every 0.5 s and never finish the request."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"GET /repertoire/discovery HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            if reader.at_eof():
                return 0
            writer.write(b"a")
            await writer.drain()
        with suppress(TimeoutError):
            async with asyncio.timeout(0.5):
                line = await reader.readline()
                return int(line.split()[1]) if line.startswith(b"HTTP/1.") else 0
        return None
    except ConnectionError:
        return 0
    finally:
        writer.close()
        with suppress(ConnectionError):
            await writer.wait_closed()


async def _idle(port: int, seconds: float) -> int | None:
    """Connect, send nothing, and wait: closed (0) or still open (None)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        async with asyncio.timeout(seconds):
            await reader.read()
    except TimeoutError:
        return None
    finally:
        writer.close()
        with suppress(ConnectionError):
            await writer.wait_closed()
    return 0


def _request(path: bytes, *headers: bytes) -> bytes:
    lines = [b"GET " + path + b" HTTP/1.1", b"Host: 127.0.0.1", *headers]
    return b"\r\n".join(lines) + b"\r\n\r\n"


async def test_malformed_traffic_gets_4xx_and_server_keeps_answering(
    server_factory: ServerFactory, deployment: Deployment
) -> None:
    """Oversized headers, huge names, non-UTF-8 paths, slowloris: 4xx or timeout."""
    server = server_factory(deployment.cli_args())
    port = server.port
    bearer = f"Authorization: Bearer {deployment.token}".encode()
    async with aiohttp.ClientSession() as session:
        _, expected = await _fetch(session, server.base_url + DISCOVERY)
    hostile = {
        "oversized header": _request(b"/repertoire/discovery", b"X-Big: " + b"x" * 65_536),
        "many headers": _request(
            b"/repertoire/discovery", *(b"X-H%d: v" % i for i in range(1_000))
        ),
        "10,000-character database": _request(
            b"/repertoire/discovery/influxdb/" + b"d" * 10_000, bearer
        ),
        "10,000-character database, no token": _request(
            b"/repertoire/discovery/influxdb/" + b"d" * 10_000
        ),
        "non-UTF-8 database": _request(b"/repertoire/discovery/influxdb/\xff\xfe\xc3(", bearer),
        "non-UTF-8 route": _request(b"/repertoire/\xc0\xaf\xff"),
        "non-UTF-8 header": _request(
            b"/repertoire/discovery/influxdb/test_efd", b"Authorization: Bearer \xff\xfe"
        ),
    }

    stop = asyncio.Event()
    steady = SteadyTraffic()
    background = asyncio.create_task(steady.run(server, expected, stop))
    try:
        slow = [asyncio.create_task(_slowloris(port, 4)) for _ in range(20)]
        idle = [asyncio.create_task(_idle(port, 4)) for _ in range(20)]
        outcomes = {name: await _raw_status(port, data) for name, data in hostile.items()}
        slow_outcomes = await asyncio.gather(*slow)
        idle_outcomes = await asyncio.gather(*idle)
    finally:
        stop.set()
        await background

    assert {name: o for name, o in outcomes.items() if o is None or not 400 <= o < 500} == {}
    for outcome in (*slow_outcomes, *idle_outcomes):
        assert outcome is None or outcome == 0 or 400 <= outcome < 500
    assert steady.failures == []
    assert steady.answered > 100
    assert steady.slowest < 1.0
    assert server.process.poll() is None
    assert "Unexpected error" not in server.log()
