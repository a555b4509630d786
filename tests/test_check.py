"""``repertoire check`` against the real InfluxDB and a stand-in schema registry.

Every verdict comes from real probes: the session's ``influxd`` with its
read-only user, its writer, a wrong password and a port nothing listens on.
Passwords must never reach the output.
"""

from __future__ import annotations

import json
import secrets
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SCOPE, write_values
from tests.support.influxdb import DATABASE, READER_USERNAME, WRITER_USERNAME, InfluxServer
from tests.support.k8s_secrets import KubernetesSecretDir
from tests.support.registry import StandInRegistry, schema_registry  # noqa: F401
from tests.support.server import RunningServer, free_port, run_cli


def _stanza(url: str, username: str, registry: str, label: str) -> dict[str, Any]:
    return {"url": url, "database": DATABASE, "username": username,
            "passwordKey": f"{label}-password", "schemaRegistry": registry}


@pytest.fixture
def environment(
    tmp_path: Path, influxdb: InfluxServer, schema_registry: StandInRegistry,  # noqa: F811
) -> Callable[..., list[str]]:
    """Write values + secrets for the named databases; return ``check`` options."""
    registry = schema_registry.url
    choices: dict[str, tuple[str, str, str, str]] = {
        "reader": (influxdb.url, READER_USERNAME, influxdb.passwords[READER_USERNAME], registry),
        "writer": (influxdb.url, WRITER_USERNAME, influxdb.passwords[WRITER_USERNAME], registry),
        "wrong": (influxdb.url, READER_USERNAME, "not-" + secrets.token_hex(8), registry),
        "dead": (f"http://127.0.0.1:{free_port()}/", READER_USERNAME, "unused", registry),
        "noregistry": (influxdb.url, READER_USERNAME, influxdb.passwords[READER_USERNAME],
                       schema_registry.broken_url),
    }

    def make(*labels: str, url: dict[str, str] | None = None) -> list[str]:
        databases, passwords = {}, {}
        for label in labels:
            base_url, username, password, registry_url = choices[label]
            base_url = (url or {}).get(label, base_url)
            databases[label] = _stanza(base_url, username, registry_url, label)
            passwords[f"{label}-password"] = password
        values = write_values(tmp_path / "values.yaml",
                              {"config": {"influxdbDatabases": databases}})
        secret_dir = KubernetesSecretDir(tmp_path / "secrets", passwords)
        return ["--values", str(values), "--secrets-dir", str(secret_dir.path)]

    return make


def _json_check(args: list[str]) -> tuple[int, dict[str, dict[str, Any]], str]:
    result = run_cli(["check", *args, "--format", "json", "--timeout", "3"])
    document = json.loads(result.stdout)
    reports = {entry["label"]: entry for entry in document["databases"]}
    return result.returncode, reports, result.stdout + result.stderr


def _statuses(report: dict[str, Any]) -> dict[str, str]:
    return {name: probe["status"] for name, probe in report["probes"].items()}


def _assert_no_password(output: str, influxdb: InfluxServer) -> None:
    leaked = [user for user, password in influxdb.passwords.items() if password in output]
    assert leaked == [], f"passwords of {leaked} printed"


def test_verdicts(environment: Callable[..., list[str]], influxdb: InfluxServer) -> None:
    code, reports, output = _json_check(
        environment("reader", "writer", "wrong", "dead", "noregistry")
    )
    assert code == 1
    assert _statuses(reports["reader"]) == {
        "reachable": "ok", "credentials": "ok", "read-only": "ok", "schema registry": "ok"}
    assert reports["reader"]["verdict"] == "ok"
    assert reports["reader"]["probes"]["read-only"]["detail"] == "write refused (HTTP 403)"
    assert reports["reader"]["probes"]["schema registry"]["detail"] == "2 subject(s)"
    # It logs in and sees the database, but anyone with the scope could write.
    assert _statuses(reports["writer"]) == {
        "reachable": "ok", "credentials": "ok", "read-only": "warning",
        "schema registry": "ok"}
    assert reports["writer"]["verdict"] == "warning"
    assert reports["writer"]["probes"]["read-only"]["detail"] == (
        "efdwriter can write to efd; every holder of the credentials scope receives"
        " this access")
    assert _statuses(reports["wrong"])["credentials"] == "fail"
    assert "authentication failed" in reports["wrong"]["probes"]["credentials"]["detail"]
    assert reports["wrong"]["verdict"] == "fail"
    assert _statuses(reports["dead"]) == {
        "reachable": "fail", "credentials": "fail", "read-only": "fail",
        "schema registry": "ok"}
    assert "cannot connect to 127.0.0.1" in reports["dead"]["probes"]["reachable"]["detail"]
    assert _statuses(reports["noregistry"])["schema registry"] == "fail"
    assert reports["noregistry"]["probes"]["schema registry"]["detail"] == (
        "/subjects answered HTTP 500")
    _assert_no_password(output, influxdb)


def test_empty_write_probe_stores_nothing(
    environment: Callable[..., list[str]], influxdb: InfluxServer
) -> None:
    def stored() -> tuple[dict[str, Any], ...]:
        return tuple(influxdb.query(q, database=DATABASE).body
                     for q in ("SHOW SERIES", "SHOW SHARDS"))

    before = stored()
    code, _, _ = _json_check(environment("writer"))
    assert code == 0
    assert stored() == before


def test_warnings_alone_exit_0_and_table_output(
    environment: Callable[..., list[str]], influxdb: InfluxServer
) -> None:
    result = run_cli(["check", *environment("reader", "writer")])
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["DATABASE", "PROBE", "RESULT", "DETAIL"]
    assert any(line.split()[:3] == ["writer", "read-only", "warning"] for line in lines)
    assert f"reader: ok ({READER_USERNAME} @ {influxdb.url})" in lines
    assert f"writer: warning ({WRITER_USERNAME} @ {influxdb.url})" in lines
    _assert_no_password(result.stdout + result.stderr, influxdb)


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections (in the backlog) and never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield sock.getsockname()[1]


def test_a_silent_host_times_out_without_stalling_the_rest(
    environment: Callable[..., list[str]], silent_port: int
) -> None:
    args = environment("reader", "wrong", url={"wrong": f"http://127.0.0.1:{silent_port}/"})
    started = time.monotonic()
    result = run_cli(["check", *args, "--format", "json", "--timeout", "0.5"])
    elapsed = time.monotonic() - started
    reports = {entry["label"]: entry for entry in json.loads(result.stdout)["databases"]}
    assert result.returncode == 1
    assert reports["reader"]["verdict"] == "ok"
    assert reports["wrong"]["probes"]["reachable"] == {
        "status": "fail", "detail": "no answer within 0.5s"}
    assert elapsed < 5, f"took {elapsed:.1f}s: probes did not run concurrently"


def test_missing_secret_fails_credentials(
    environment: Callable[..., list[str]], tmp_path: Path
) -> None:
    args = environment("reader")
    (tmp_path / "secrets" / "reader-password").unlink()
    code, reports, _ = _json_check(args)
    assert code == 1
    assert reports["reader"]["probes"]["credentials"] == {
        "status": "fail", "detail": "no password: secret reader-password file not found"}
    assert reports["reader"]["probes"]["reachable"]["status"] == "ok"


def test_check_a_running_service(
    environment: Callable[..., list[str]], server_factory: Callable[..., RunningServer],
    tmp_path: Path, influxdb: InfluxServer,
) -> None:
    args = environment("reader", "writer")
    tokens_file = tmp_path / "tokens.yaml"
    token = run_cli(["token", "create", "--username", "ops", "--scope", SCOPE,
                     "--tokens-file", str(tokens_file)]).stdout.strip()
    server = server_factory([*args, "--auth", "tokens", "--tokens-file", str(tokens_file)])
    token_file = tmp_path / "token"
    token_file.write_text(token + "\n", encoding="utf-8")
    service = ["--url", f"{server.base_url}/repertoire", "--token-file", str(token_file)]
    code, reports, output = _json_check(service)
    assert code == 0
    assert {label: r["verdict"] for label, r in reports.items()} == {
        "reader": "ok", "writer": "warning"}
    _assert_no_password(output, influxdb)
    assert token not in output


@pytest.mark.parametrize(("args", "message"), [
    ([], "give --values and --secrets-dir, or --url"),
    (["--url", "http://127.0.0.1:9/repertoire", "--values", "v.yaml"],
     "give either --url or --values with --secrets-dir"),
    (["--url", "http://127.0.0.1:9/repertoire", "--token-file", "/nonexistent/token"],
     "cannot read /nonexistent/token"),
])
def test_unusable_input_exits_2(args: list[str], message: str) -> None:
    result = run_cli(["check", *args])
    assert result.returncode == 2
    assert message in result.stderr


def test_bad_token_exits_2(server_factory: Callable[..., RunningServer], tmp_path: Path,
                           environment: Callable[..., list[str]]) -> None:
    tokens_file = tmp_path / "tokens.yaml"
    run_cli(["token", "create", "--username", "ops", "--scope", SCOPE,
             "--tokens-file", str(tokens_file)])
    server = server_factory([*environment("reader"), "--auth", "tokens",
                             "--tokens-file", str(tokens_file)])
    token_file = tmp_path / "token"
    token_file.write_text("rpt-not-a-token", encoding="utf-8")
    result = run_cli(["check", "--url", f"{server.base_url}/repertoire",
                      "--token-file", str(token_file)])
    assert result.returncode == 2
    assert "answered HTTP 401" in result.stderr
