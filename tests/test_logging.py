"""Logs of a real server process: JSON audit lines, and never a password."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable

import pytest

from tests.conftest import EFD_PASSWORD, REMOTE_PASSWORD, Deployment
from tests.support.server import RunningServer


def _fetch(url: str, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            status: int = response.status
            return status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.parametrize("profile", ["production", "development"])
def test_audit_lines_are_json_and_no_password_is_logged(
    server_factory: Callable[..., RunningServer], deployment: Deployment, profile: str
) -> None:
    server = server_factory(
        [*deployment.cli_args(), "--set", f"config.logProfile={profile}", "--access-log"]
    )
    base = f"{server.base_url}/repertoire/discovery/influxdb"
    assert _fetch(f"{base}/test_efd", deployment.bearer()) == 200
    assert _fetch(base, deployment.bearer()) == 200
    assert _fetch(f"{base}/test_efd", deployment.bearer(deployment.unscoped_token)) == 403
    deployment.secrets.update({"remote_efd-password": REMOTE_PASSWORD})
    assert _fetch(f"{base}/test_efd", deployment.bearer()) == 503

    log = server.log()
    assert EFD_PASSWORD not in log
    assert REMOTE_PASSWORD not in log
    assert deployment.token not in log
    audit = [
        json.loads(line)
        for line in log.splitlines()
        if line.startswith("{") and '"repertoire.audit"' in line
    ]
    assert [(entry["username"], entry.get("database")) for entry in audit] == [
        ("alice", "test_efd"),
        ("alice", None),
    ]
    assert audit[1]["databases"] == ["remote_efd", "test_efd"]
    assert "secret test_efd-password file not found" in log
