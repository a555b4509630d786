#!/usr/bin/env python3
"""One-shot initialisation for the Docker Compose demo.

Runs in the ``init`` service (``python:3.12-slim``, standard library only):

1. creates the InfluxDB admin (the first ``CREATE USER … WITH ALL
   PRIVILEGES`` needs no credentials while auth is on and no user exists);
2. creates database `DATABASE` and the read-only user `READER_USERNAME`
   (``GRANT READ``) whose password is the secret Repertoire serves;
3. writes demo EFD-like points of `MEASUREMENT`;
4. registers the Avro schema of the demo topic under `SUBJECT` in the schema
   registry, so that the ``schema_registry`` URL a client receives really
   describes the data;
5. checks that the reader can read and cannot write.

Every step is idempotent, so ``docker compose up`` can run it again. The
user names are shared with the test suite (``tests/support/influxdb.py``);
``tests/test_compose.py`` checks they agree and runs steps 1-3 and 5 against
a real ``influxd``. Passwords are read from files and never printed.

Configuration (environment variables):

``INFLUXDB_URL``
    Default ``http://influxdb:8086``.
``SCHEMA_REGISTRY_URL``
    Default ``http://schema-registry:8081``.
``INFLUXDB_ADMIN_PASSWORD_FILE``
    Default ``/run/secrets/influxdb-admin-password``.
``INFLUXDB_READER_PASSWORD_FILE``
    Default ``/run/secrets/demo_efd-password`` (the Repertoire secret).
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

ADMIN_USERNAME = "admin"
READER_USERNAME = "efdreader"
DATABASE = "efd"
TOPIC = "lsst.sal.ATDome.position"
MEASUREMENT = TOPIC
"""Sasquatch names InfluxDB measurements after their Kafka topics."""

SUBJECT = f"{TOPIC}-value"
"""Schema-registry subject of the topic's values (TopicNameStrategy)."""

TAG_FIELDS = ("salIndex",)
"""Avro fields written as InfluxDB tags rather than fields."""

AVRO_SCHEMA: dict[str, Any] = {
    "type": "record",
    "name": "position",
    "namespace": "lsst.sal.ATDome",
    "doc": "Demo EFD-like telemetry: ATDome azimuth and door positions.",
    "fields": [
        {"name": "private_efdStamp", "type": "double", "doc": "TAI, seconds."},
        {"name": "salIndex", "type": "long", "doc": "SAL index."},
        {"name": "azimuthPosition", "type": "double", "doc": "Degrees."},
        {
            "name": "dropoutDoorOpeningPercentage",
            "type": "double",
            "doc": "Percent open.",
        },
        {
            "name": "mainDoorOpeningPercentage",
            "type": "double",
            "doc": "Percent open.",
        },
    ],
}

DEMO_POINT_COUNT = 10
_HTTP_TIMEOUT = 10.0


class InitError(Exception):
    """A step failed; the message never contains a password."""


def _log(message: str) -> None:
    print(f"init: {message}", flush=True)


def read_secret(path: Path) -> str:
    """Read a secret file, dropping the trailing newline."""
    value = path.read_text(encoding="utf-8").rstrip("\r\n")
    if not value:
        raise InitError(f"secret file {path} is empty")
    return value


def _basic(username: str, password: str) -> str:
    raw = f"{username}:{password}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


def _http(
    method: str,
    url: str,
    *,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
) -> tuple[int, str]:
    if not url.startswith(("http://", "https://")):
        raise InitError(f"not an HTTP URL: {url}")
    request = urllib.request.Request(url, data=body, method=method)  # noqa: S310
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=_HTTP_TIMEOUT) as response:  # noqa: S310
            return int(response.status), response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")


def wait_until_up(url: str, *, timeout: float = 120.0) -> None:
    """Wait until ``url`` answers below 500 (compose healthchecks precede us)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            status, _ = _http("GET", url)
            if status < 500:
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            raise InitError(f"{url} did not come up within {timeout:.0f} s")
        time.sleep(1)


class Influx:
    """Just enough of the InfluxDB 1.x HTTP API."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def query(
        self,
        statement: str,
        *,
        auth: tuple[str, str] | None,
        database: str | None = None,
        post: bool = True,
    ) -> tuple[int, dict[str, Any]]:
        params = {"db": database} if database else {}
        headers = {"Authorization": _basic(*auth)} if auth else {}
        if post:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            status, text = _http(
                "POST",
                f"{self.url}/query?{urllib.parse.urlencode(params)}",
                body=urllib.parse.urlencode({"q": statement}).encode(),
                headers=headers,
            )
        else:
            params["q"] = statement
            status, text = _http(
                "GET",
                f"{self.url}/query?{urllib.parse.urlencode(params)}",
                headers=headers,
            )
        try:
            document = json.loads(text) if text.strip() else {}
        except json.JSONDecodeError:
            document = {"error": text.strip()}
        return status, document if isinstance(document, dict) else {}

    def command(self, statement: str, *, auth: tuple[str, str] | None) -> str | None:
        """Run a statement as ``auth``; return its error message, if any."""
        status, document = self.query(statement, auth=auth)
        error = _error(document)
        if status != 200 and error is None:
            error = f"HTTP {status}"
        return error

    def write(self, lines: str, *, auth: tuple[str, str], database: str) -> tuple[int, str]:
        params = urllib.parse.urlencode({"db": database, "precision": "ns"})
        return _http(
            "POST",
            f"{self.url}/write?{params}",
            body=lines.encode(),
            headers={
                "Authorization": _basic(*auth),
                "Content-Type": "text/plain; charset=utf-8",
            },
        )


def _error(document: Mapping[str, Any]) -> str | None:
    if isinstance(document.get("error"), str):
        return str(document["error"])
    for result in document.get("results", []):
        if isinstance(result, dict) and "error" in result:
            return str(result["error"])
    return None


def _ident(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def ensure_admin(influx: Influx, password: str) -> tuple[str, str]:
    """Create the admin unless it exists; return working admin credentials."""
    admin = (ADMIN_USERNAME, password)
    error = influx.command(
        f"CREATE USER {_ident(ADMIN_USERNAME)} WITH PASSWORD {_string(password)}"
        " WITH ALL PRIVILEGES",
        auth=None,
    )
    if error is None:
        _log(f"created InfluxDB admin {ADMIN_USERNAME}")
    status, _ = influx.query("SHOW DATABASES", auth=admin, post=False)
    if status != 200:
        raise InitError(
            f"admin {ADMIN_USERNAME} cannot log in (HTTP {status}); was the"
            " InfluxDB volume initialised with another admin password?"
        )
    return admin


def ensure_reader(influx: Influx, admin: tuple[str, str], password: str) -> None:
    """Create (or re-password) the read-only user and grant READ."""
    error = influx.command(
        f"CREATE USER {_ident(READER_USERNAME)} WITH PASSWORD {_string(password)}",
        auth=admin,
    )
    if error is not None:
        if "already exists" not in error:
            raise InitError(f"CREATE USER {READER_USERNAME} failed: {error}")
        error = influx.command(
            f"SET PASSWORD FOR {_ident(READER_USERNAME)} = {_string(password)}",
            auth=admin,
        )
        if error is not None:
            raise InitError(f"SET PASSWORD FOR {READER_USERNAME} failed: {error}")
        _log(f"user {READER_USERNAME} existed; password set from its secret")
    else:
        _log(f"created read-only user {READER_USERNAME}")
    for statement in (
        f"REVOKE ALL PRIVILEGES ON {_ident(DATABASE)} FROM {_ident(READER_USERNAME)}",
        f"GRANT READ ON {_ident(DATABASE)} TO {_ident(READER_USERNAME)}",
    ):
        error = influx.command(statement, auth=admin)
        if error is not None:
            raise InitError(f"{statement} failed: {error}")


def _field_names() -> list[str]:
    return [f["name"] for f in AVRO_SCHEMA["fields"] if f["name"] not in TAG_FIELDS]


def demo_points(now_ns: int, count: int = DEMO_POINT_COUNT) -> list[dict[str, Any]]:
    """Points of `MEASUREMENT`, one a minute up to ``now_ns``, as Avro records."""
    points = []
    for i in range(count):
        stamp_ns = now_ns - (count - 1 - i) * 60_000_000_000
        points.append(
            {
                "private_efdStamp": stamp_ns / 1e9,
                "salIndex": 0,
                "azimuthPosition": round(180.0 + 90.0 * math.sin(i / 3), 3),
                "dropoutDoorOpeningPercentage": float(min(100, i * 20)),
                "mainDoorOpeningPercentage": float(min(100, i * 15)),
                "_time_ns": stamp_ns,
            }
        )
    return points


def line_protocol(points: Sequence[Mapping[str, Any]]) -> str:
    """Render Avro-shaped records as line protocol (tags per `TAG_FIELDS`)."""
    measurement = MEASUREMENT.replace(",", r"\,").replace(" ", r"\ ")
    lines = []
    for point in points:
        tags = "".join(f",{name}={point[name]}" for name in TAG_FIELDS)
        fields = ",".join(f"{name}={float(point[name])!r}" for name in _field_names())
        lines.append(f"{measurement}{tags} {fields} {point['_time_ns']}")
    return "\n".join(lines) + "\n"


def seed_influxdb(url: str, admin_password: str, reader_password: str) -> None:
    """Steps 1-3 and 5 of the module docstring."""
    influx = Influx(url)
    wait_until_up(f"{influx.url}/ping")
    admin = ensure_admin(influx, admin_password)
    error = influx.command(f"CREATE DATABASE {_ident(DATABASE)}", auth=admin)
    if error is not None:
        raise InitError(f"CREATE DATABASE {DATABASE} failed: {error}")
    ensure_reader(influx, admin, reader_password)

    lines = line_protocol(demo_points(time.time_ns()))
    status, text = influx.write(lines, auth=admin, database=DATABASE)
    if status != 204:
        raise InitError(f"writing demo points failed: HTTP {status}: {text[:200]}")
    _log(f"wrote {DEMO_POINT_COUNT} points of {MEASUREMENT} to {DATABASE}")

    reader = (READER_USERNAME, reader_password)
    status, document = influx.query(
        f"SELECT COUNT({_ident('azimuthPosition')}) FROM {_ident(MEASUREMENT)}",  # noqa: S608
        auth=reader,
        database=DATABASE,
        post=False,
    )
    if status != 200 or _error(document) is not None:
        raise InitError(f"{READER_USERNAME} cannot read {DATABASE}: HTTP {status}")
    status, _ = influx.write(lines, auth=reader, database=DATABASE)
    if status != 403:
        raise InitError(f"{READER_USERNAME} write got HTTP {status}, expected 403")
    _log(f"checked: {READER_USERNAME} reads {DATABASE} and cannot write")


def register_schema(registry_url: str) -> int:
    """Register `AVRO_SCHEMA` under `SUBJECT`; return the schema id."""
    base = registry_url.rstrip("/")
    wait_until_up(f"{base}/subjects")
    subject = urllib.parse.quote(SUBJECT, safe="")
    content_type = {"Content-Type": "application/vnd.schemaregistry.v1+json"}
    body = json.dumps({"schemaType": "AVRO", "schema": json.dumps(AVRO_SCHEMA)})
    status, text = _http(
        "POST",
        f"{base}/subjects/{subject}/versions",
        body=body.encode(),
        headers=content_type,
    )
    if status != 200:
        raise InitError(f"registering {SUBJECT} failed: HTTP {status}: {text[:300]}")
    schema_id = int(json.loads(text)["id"])
    status, text = _http("GET", f"{base}/subjects/{subject}/versions/latest")
    if status != 200 or json.loads(text).get("id") != schema_id:
        raise InitError(f"{SUBJECT} not readable back: HTTP {status}")
    _log(f"registered Avro schema for {SUBJECT} (id {schema_id})")
    return schema_id


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--skip-schema-registry",
        action="store_true",
        help="Only initialise InfluxDB (used by the engine-free tests).",
    )
    args = parser.parse_args(argv)
    env = os.environ
    try:
        seed_influxdb(
            env.get("INFLUXDB_URL", "http://influxdb:8086"),
            read_secret(
                Path(
                    env.get(
                        "INFLUXDB_ADMIN_PASSWORD_FILE",
                        "/run/secrets/influxdb-admin-password",
                    )
                )
            ),
            read_secret(
                Path(
                    env.get(
                        "INFLUXDB_READER_PASSWORD_FILE",
                        "/run/secrets/demo_efd-password",
                    )
                )
            ),
        )
        if not args.skip_schema_registry:
            register_schema(env.get("SCHEMA_REGISTRY_URL", "http://schema-registry:8081"))
    except (InitError, OSError) as e:
        print(f"init: FAILED: {e}", file=sys.stderr, flush=True)
        return 1
    _log("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
