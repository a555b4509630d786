"""A real InfluxDB 1.x server for the test suite.

The session-scoped ``influxdb`` fixture installs Debian's ``influxdb`` package
if ``influxd`` is missing, starts ``influxd`` bound to 127.0.0.1 on free ports
with its data in a temporary directory and authentication on, seeds it with an
admin, a database, a read-only user, a writer and a few EFD-like points, and
stops it by PID at the end of the session.

HTTP Basic credentials are sent in an ``Authorization`` header built here
(never as ``u``/``p`` query parameters, which would end up in access logs).
Passwords are never printed: ``repr`` of the helper objects hides them.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.server import free_port

__all__ = [
    "ADMIN_USERNAME",
    "DATABASE",
    "MEASUREMENT",
    "READER_USERNAME",
    "SEED_POINTS",
    "WRITER_USERNAME",
    "InfluxCredentials",
    "InfluxResponse",
    "InfluxServer",
    "SeedPoint",
    "basic_auth_header",
    "ensure_influxd",
    "influx_query",
    "influx_write",
    "influxdb",
    "seed_line_protocol",
]

ADMIN_USERNAME = "admin"
"""InfluxDB admin user (created first, with all privileges)."""

DATABASE = "efd"
"""Database holding the EFD-like demo data."""

READER_USERNAME = "efdreader"
"""Read-only user (``GRANT READ ON efd``); the one Repertoire serves."""

WRITER_USERNAME = "efdwriter"
"""Write-only user (``GRANT WRITE ON efd``)."""

MEASUREMENT = "lsst.sal.ATDome.position"
"""EFD-like measurement written by the seed."""

_STARTUP_TIMEOUT = 30.0
_HTTP_TIMEOUT = 10.0


@dataclass(frozen=True)
class SeedPoint:
    """One seeded point of `MEASUREMENT`."""

    time_ns: int
    salIndex: int  # noqa: N815 (EFD field names are camelCase)
    azimuthPosition: float  # noqa: N815
    dropoutDoorOpeningPercentage: float  # noqa: N815
    mainDoorOpeningPercentage: float  # noqa: N815

    @property
    def rfc3339(self) -> str:
        """Timestamp as InfluxDB returns it with ``epoch`` unset."""
        seconds, nanos = divmod(self.time_ns, 1_000_000_000)
        base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
        if nanos:
            return f"{base}.{nanos:09d}".rstrip("0") + "Z"
        return base + "Z"


_T0 = 1_735_689_600_000_000_000  # 2025-01-01T00:00:00Z in nanoseconds
SEED_POINTS: tuple[SeedPoint, ...] = (
    SeedPoint(_T0, 0, 12.5, 0.0, 0.0),
    SeedPoint(_T0 + 1_000_000_000, 0, 45.25, 10.0, 50.0),
    SeedPoint(_T0 + 2_000_000_000, 0, 90.0, 100.0, 100.0),
)
"""Points written to `MEASUREMENT` in `DATABASE` at startup."""


def seed_line_protocol(points: Sequence[SeedPoint] = SEED_POINTS) -> str:
    """Render seed points as InfluxDB line protocol (nanosecond precision)."""
    measurement = MEASUREMENT.replace(",", r"\,").replace(" ", r"\ ")
    lines = [
        f"{measurement},salIndex={p.salIndex}"
        f" azimuthPosition={p.azimuthPosition!r},"
        f"dropoutDoorOpeningPercentage={p.dropoutDoorOpeningPercentage!r},"
        f"mainDoorOpeningPercentage={p.mainDoorOpeningPercentage!r}"
        f" {p.time_ns}"
        for p in points
    ]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class InfluxCredentials:
    """A user name and password (the password is hidden from ``repr``)."""

    username: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class InfluxResponse:
    """Status and decoded JSON body (``{}`` when empty) of an InfluxDB call."""

    status: int
    body: dict[str, Any]

    def error(self) -> str | None:
        """Return the first error message in the body, if any."""
        if isinstance(self.body.get("error"), str):
            return str(self.body["error"])
        for result in self.body.get("results", []):
            if isinstance(result, dict) and "error" in result:
                return str(result["error"])
        return None

    def series(self) -> list[dict[str, Any]]:
        """Return all series of all statement results."""
        out: list[dict[str, Any]] = []
        for result in self.body.get("results", []):
            out.extend(result.get("series", []))
        return out

    def rows(self) -> list[dict[str, Any]]:
        """Return the rows of all series as column-name → value mappings."""
        out: list[dict[str, Any]] = []
        for series in self.series():
            columns = series["columns"]
            out.extend(dict(zip(columns, v, strict=True)) for v in series["values"])
        return out


def basic_auth_header(username: str, password: str) -> str:
    """Build an HTTP Basic ``Authorization`` header value."""
    raw = f"{username}:{password}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


def _endpoint(url: str, path: str) -> str:
    return url.rstrip("/") + "/" + path


def _request(
    url: str,
    *,
    method: str,
    params: Mapping[str, str],
    body: bytes | None,
    content_type: str | None,
    credentials: InfluxCredentials | None,
) -> InfluxResponse:
    full = url + ("?" + urllib.parse.urlencode(params) if params else "")
    if not full.startswith(("http://", "https://")):
        raise ValueError(f"Not an HTTP URL: {url}")
    request = urllib.request.Request(full, data=body, method=method)  # noqa: S310
    if content_type:
        request.add_header("Content-Type", content_type)
    if credentials is not None:
        request.add_header(
            "Authorization",
            basic_auth_header(credentials.username, credentials.password),
        )
    try:
        with urllib.request.urlopen(request, timeout=_HTTP_TIMEOUT) as response:  # noqa: S310
            status = int(response.status)
            raw = response.read()
    except urllib.error.HTTPError as e:
        status = e.code
        raw = e.read()
    text = raw.decode("utf-8", "replace").strip()
    try:
        decoded = json.loads(text) if text else {}
    except json.JSONDecodeError:
        decoded = {"error": text}
    if not isinstance(decoded, dict):
        decoded = {"value": decoded}
    return InfluxResponse(status=status, body=decoded)


def influx_query(
    url: str,
    query: str,
    *,
    credentials: InfluxCredentials | None,
    database: str | None = None,
    post: bool = False,
) -> InfluxResponse:
    """Run InfluxQL against the server at ``url`` (``/query`` is appended).

    Statements that change state (``CREATE``, ``GRANT``, ``SET PASSWORD``…)
    need ``post=True``; the query then travels in the request body rather
    than the URL.
    """
    params: dict[str, str] = {}
    if database is not None:
        params["db"] = database
    endpoint = _endpoint(url, "query")
    if post:
        body = urllib.parse.urlencode({"q": query}).encode()
        return _request(
            endpoint,
            method="POST",
            params=params,
            body=body,
            content_type="application/x-www-form-urlencoded",
            credentials=credentials,
        )
    params["q"] = query
    return _request(
        endpoint,
        method="GET",
        params=params,
        body=None,
        content_type=None,
        credentials=credentials,
    )


def influx_write(
    url: str,
    lines: str,
    *,
    credentials: InfluxCredentials | None,
    database: str,
    precision: str = "ns",
) -> InfluxResponse:
    """Write line protocol to the server at ``url`` (``/write`` is appended)."""
    return _request(
        _endpoint(url, "write"),
        method="POST",
        params={"db": database, "precision": precision},
        body=lines.encode(),
        content_type="text/plain; charset=utf-8",
        credentials=credentials,
    )


def _quote_identifier(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _quote_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def new_password() -> str:
    """Make a random password safe in InfluxQL strings and URLs."""
    return secrets.token_urlsafe(24)


@dataclass
class InfluxServer:
    """A running ``influxd`` started by this module."""

    url: str
    """Base URL, ending in ``/`` like the Phalanx values do."""

    admin: InfluxCredentials
    passwords: dict[str, str] = field(default_factory=dict, repr=False)
    """Current password of every user created through this object."""

    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    log_path: Path | None = None

    @property
    def port(self) -> int:
        """HTTP port."""
        port = urllib.parse.urlsplit(self.url).port
        assert port is not None
        return port

    def credentials(self, username: str) -> InfluxCredentials:
        """Current credentials of a user created through this object."""
        return InfluxCredentials(username, self.passwords[username])

    def query(
        self,
        query: str,
        *,
        credentials: InfluxCredentials | None = None,
        database: str | None = None,
        post: bool = False,
    ) -> InfluxResponse:
        """Run InfluxQL, as the admin unless other credentials are given."""
        return influx_query(
            self.url,
            query,
            credentials=credentials or self.admin,
            database=database,
            post=post,
        )

    def admin_command(self, statement: str, *, database: str | None = None) -> None:
        """Run a state-changing statement as the admin; raise on any error."""
        response = self.query(statement, database=database, post=True)
        error = response.error()
        if response.status != 200 or error is not None:
            # The statement may carry a password: report only its first word.
            verb = statement.split(maxsplit=1)[0]
            raise RuntimeError(f"InfluxDB {verb} failed: HTTP {response.status}: {error}")

    def write(
        self,
        lines: str,
        *,
        credentials: InfluxCredentials | None = None,
        database: str = DATABASE,
    ) -> InfluxResponse:
        """Write line protocol, as the admin unless other credentials given."""
        return influx_write(
            self.url,
            lines,
            credentials=credentials or self.admin,
            database=database,
        )

    def create_user(
        self,
        username: str,
        password: str | None = None,
        *,
        grants: Mapping[str, str] | None = None,
    ) -> InfluxCredentials:
        """Create a user with ``grants`` (database → READ, WRITE or ALL)."""
        password = password or new_password()
        self.admin_command(
            f"CREATE USER {_quote_identifier(username)} WITH PASSWORD {_quote_string(password)}"
        )
        self.passwords[username] = password
        for database, privilege in (grants or {}).items():
            if privilege not in {"READ", "WRITE", "ALL"}:
                raise ValueError(f"Unknown privilege {privilege}")
            self.admin_command(
                f"GRANT {privilege} ON {_quote_identifier(database)}"
                f" TO {_quote_identifier(username)}"
            )
        return InfluxCredentials(username, password)

    def set_password(self, username: str, password: str | None = None) -> InfluxCredentials:
        """Change a user's password (a new random one unless given)."""
        password = password or new_password()
        self.admin_command(
            f"SET PASSWORD FOR {_quote_identifier(username)} = {_quote_string(password)}"
        )
        self.passwords[username] = password
        return InfluxCredentials(username, password)

    def can_log_in(self, credentials: InfluxCredentials) -> bool:
        """Whether these credentials authenticate (``SHOW DATABASES``)."""
        response = self.query("SHOW DATABASES", credentials=credentials)
        return response.status == 200

    def stop(self) -> None:
        """Stop ``influxd`` by PID: SIGTERM, then SIGKILL after 10 s."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def ensure_influxd() -> str:
    """Return the path of ``influxd``, installing Debian's package if missing.

    Runs ``apt-get update`` once, then ``apt-get install -y influxdb``. The
    package's maintainer scripts start no daemon here (there is no init
    system), and this module starts its own ``influxd`` anyway.
    """
    found = shutil.which("influxd")
    if found:
        return found
    apt_get = shutil.which("apt-get")
    if apt_get is None or os.geteuid() != 0:
        pytest.fail(
            "influxd is not installed and cannot be installed here (needs"
            " root and apt-get): run `apt-get install -y influxdb`"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        [apt_get, "update"],
        [apt_get, "install", "-y", "--no-install-recommends", "influxdb"],
    ):
        result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            pytest.fail(
                f"{' '.join(command)} failed ({result.returncode}):\n"
                f"{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
            )
    found = shutil.which("influxd") or (
        "/usr/bin/influxd" if Path("/usr/bin/influxd").exists() else None
    )
    if not found:
        pytest.fail("influxdb package installed but influxd not found")
    return found


def _set_options(config: str, options: Mapping[tuple[str, str], str]) -> str:
    """Set ``key = value`` in TOML ``config`` for (section, key) pairs.

    Section ``""`` is the top level. Every option must already be present in
    the generated config, so a renamed key fails loudly instead of silently.
    """
    section = ""
    seen: set[tuple[str, str]] = set()
    out: list[str] = []
    header = re.compile(r"^\s*\[([^\]]+)\]\s*$")
    assignment = re.compile(r"^(\s*)([A-Za-z0-9_-]+)\s*=")
    for line in config.splitlines():
        if match := header.match(line):
            section = match.group(1).strip()
        elif match := assignment.match(line):
            key = (section, match.group(2))
            if key in options:
                line = f"{match.group(1)}{key[1]} = {options[key]}"
                seen.add(key)
        out.append(line)
    missing = set(options) - seen
    if missing:
        raise RuntimeError(f"influxd config has no keys {sorted(missing)}")
    return "\n".join(out) + "\n"


def write_config(influxd: str, root: Path, http_port: int, rpc_port: int) -> Path:
    """Generate ``influxd.conf`` in ``root`` from ``influxd config``."""
    default = subprocess.run([influxd, "config"], capture_output=True, text=True, check=True).stdout

    def toml(value: str | Path) -> str:
        return json.dumps(str(value))

    config = _set_options(
        default,
        {
            ("", "reporting-enabled"): "false",
            ("", "bind-address"): toml(f"127.0.0.1:{rpc_port}"),
            ("meta", "dir"): toml(root / "meta"),
            ("data", "dir"): toml(root / "data"),
            ("data", "wal-dir"): toml(root / "wal"),
            # Statements such as SET PASSWORD must not reach any log.
            ("data", "query-log-enabled"): "false",
            ("monitor", "store-enabled"): "false",
            ("http", "bind-address"): toml(f"127.0.0.1:{http_port}"),
            ("http", "auth-enabled"): "true",
            ("http", "log-enabled"): "false",
            ("http", "unix-socket-enabled"): "false",
        },
    )
    path = root / "influxd.conf"
    path.write_text(config)
    return path


def _wait_for_ping(url: str, process: subprocess.Popen[bytes]) -> bool:
    deadline = time.monotonic() + _STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            response = _request(
                _endpoint(url, "ping"),
                method="GET",
                params={},
                body=None,
                content_type=None,
                credentials=None,
            )
            if response.status == 204:
                return True
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.05)
    return False


def start_influxd(root: Path, *, attempts: int = 3) -> InfluxServer:
    """Start ``influxd`` in ``root`` on free ports and wait for ``/ping``.

    Retries on fresh ports if the process dies (a port taken in between).
    The returned server has no users yet; call `seed` for the standard set.
    """
    influxd = ensure_influxd()
    last_log = ""
    for attempt in range(attempts):
        workdir = root / f"influxdb-{attempt}"
        workdir.mkdir(parents=True)
        http_port, rpc_port = free_port(), free_port()
        while rpc_port == http_port:
            rpc_port = free_port()
        config = write_config(influxd, workdir, http_port, rpc_port)
        log_path = workdir / "influxd.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [influxd, "run", "-config", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        url = f"http://127.0.0.1:{http_port}/"
        server = InfluxServer(
            url=url,
            admin=InfluxCredentials(ADMIN_USERNAME, new_password()),
            process=process,
            log_path=log_path,
        )
        if _wait_for_ping(url, process):
            return server
        server.stop()
        last_log = log_path.read_text(errors="replace")[-3000:]
    raise RuntimeError(f"influxd did not start; last log:\n{last_log}")


def seed(server: InfluxServer) -> None:
    """Create the admin, `DATABASE`, reader and writer, and write the seed."""
    # With auth on and no users yet, InfluxDB accepts exactly this statement
    # without credentials.
    admin = server.admin
    response = influx_query(
        server.url,
        f"CREATE USER {_quote_identifier(admin.username)}"
        f" WITH PASSWORD {_quote_string(admin.password)} WITH ALL PRIVILEGES",
        credentials=None,
        post=True,
    )
    if response.status != 200 or response.error():
        raise RuntimeError(f"Creating the admin failed: HTTP {response.status}")
    server.passwords[admin.username] = admin.password
    server.admin_command(f"CREATE DATABASE {_quote_identifier(DATABASE)}")
    server.create_user(READER_USERNAME, grants={DATABASE: "READ"})
    server.create_user(WRITER_USERNAME, grants={DATABASE: "WRITE"})
    written = server.write(seed_line_protocol(), credentials=server.credentials(WRITER_USERNAME))
    if written.status != 204:
        raise RuntimeError(
            f"Seeding {MEASUREMENT} failed: HTTP {written.status}: {written.error()}"
        )


@pytest.fixture(scope="session")
def influxdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxServer]:
    """A seeded, authenticated InfluxDB 1.x on 127.0.0.1, for the session.

    Users: `ADMIN_USERNAME` (all privileges), `READER_USERNAME` (READ on
    `DATABASE`), `WRITER_USERNAME` (WRITE on `DATABASE`); current passwords
    are in ``influxdb.passwords``. `SEED_POINTS` are in `MEASUREMENT`.
    Tests that change a password must do so through ``set_password`` so that
    ``passwords`` stays current for the tests that follow.
    """
    server = start_influxd(tmp_path_factory.mktemp("influxdb"))
    try:
        seed(server)
        yield server
    finally:
        server.stop()
