"""``/discovery`` equals what upstream Repertoire serves for real Phalanx environments."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp.pytest_plugin import AiohttpClient

import server.discovery
from server.app import create_app
from server.config import load_config
from server.state import ServiceSettings
from tests.conftest import GOLDEN, PHALANX
from tests.support.contract import ContractClient

ENVIRONMENTS = sorted(
    path.stem.removeprefix("discovery-") for path in GOLDEN.glob("discovery-*.json")
)
TRUST_LOCALHOST = "config.trustedProxies={127.0.0.1/32}"


def values_files(environment: str) -> tuple[Path, ...]:
    """values.yaml, values-<env>.yaml when it exists, then what Argo CD injects."""
    env_file = PHALANX / f"values-{environment}.yaml"
    return (
        PHALANX / "values.yaml",
        *((env_file,) if env_file.exists() else ()),
        GOLDEN / f"injected-{environment}.yaml",
    )


async def serve(aiohttp_client: AiohttpClient, environment: str, tmp_path: Path) -> ContractClient:
    """The environment served in-process, trusting the test client as a proxy."""
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    settings = ServiceSettings(
        values_files=values_files(environment),
        secrets_dir=secrets,
        set_options=(TRUST_LOCALHOST,),
    )
    return ContractClient(await aiohttp_client(create_app(settings)))


def dig(document: Any, keys: tuple[str, ...]) -> Any:
    """``document[k1][k2]...``."""
    for key in keys:
        document = document[key]
    return document


def test_there_are_golden_documents() -> None:
    assert len(ENVIRONMENTS) >= 4, f"golden documents missing under {GOLDEN}"


@pytest.mark.parametrize("environment", ENVIRONMENTS)
async def test_discovery_equals_golden_document(
    aiohttp_client: AiohttpClient, tmp_path: Path, environment: str
) -> None:
    golden = json.loads((GOLDEN / f"discovery-{environment}.json").read_text("utf-8"))
    hostname = load_config(values_files(environment)).base_hostname
    assert hostname is not None
    api = await serve(aiohttp_client, environment, tmp_path)
    response = await api.get(
        "/repertoire/discovery", {"Host": hostname, "X-Forwarded-Proto": "https"}
    )
    assert response.status == 200
    assert response.json() == golden


async def test_hips_and_credentials_follow_the_request_host_built_once(
    aiohttp_client: AiohttpClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    builds: list[str] = []
    original = server.discovery.build_document

    def counting(*args: Any) -> dict[str, Any]:
        builds.append("build")
        return original(*args)

    monkeypatch.setattr(server.discovery, "build_document", counting)
    api = await serve(aiohttp_client, "idfdev", tmp_path)
    public = (
        await api.get(
            "/repertoire/discovery", {"Host": "data-dev.lsst.cloud", "X-Forwarded-Proto": "https"}
        )
    ).json()
    local = (await api.get("/repertoire/discovery", {"Host": "LocalHost:8443"})).json()

    assert builds == ["build"]
    hips = local["datasets"]["dp1"]["services"]["hips"]
    assert hips == {
        "url": "http://localhost:8443/api/hips/v2/dp1/list",
        "versions": {"hips-list-1.0": {"url": hips["url"]}},
    }
    assert local["influxdb_databases"]["idfdev_efd"]["credentials_url"] == (
        "http://localhost:8443/repertoire/discovery/influxdb/idfdev_efd"
    )
    # Rule URLs come from baseHostname, whoever asks.
    assert local["services"] == public["services"]
    tap = "datasets", "dp1", "services", "tap"
    assert dig(local, tap) == dig(public, tap)
