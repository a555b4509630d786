"""``repertoire serve`` with no options serves the bundled demo."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from urllib.parse import urlsplit

from tests.support.contract import check_response
from tests.support.server import RunningServer

DEMO_TOKEN = "rpt-demo-token-read-sasquatch"  # documented in README.md


def _get(url: str, headers: dict[str, str] | None = None) -> dict[str, object]:
    """GET ``url`` and check the answer against openapi.yaml."""
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
        raw = response.read()
        check_response(
            "GET", urlsplit(url).path, response.status, dict(response.headers), raw, headers
        )
        body: dict[str, object] = json.loads(raw)
        return body


def test_demo_answers_discovery_and_credentials(
    server_factory: Callable[..., RunningServer],
) -> None:
    server = server_factory([])
    discovery = _get(f"{server.base_url}/repertoire/discovery")
    databases = discovery["influxdb_databases"]
    assert isinstance(databases, dict)
    assert sorted(databases) == ["demo_efd", "summit_efd"]
    credentials_url = databases["demo_efd"]["credentials_url"]
    credentials = _get(credentials_url, {"Authorization": f"Bearer {DEMO_TOKEN}"})
    assert credentials["username"] == "efdreader"
    assert credentials["password"] == "demo-efd-reader-password"
