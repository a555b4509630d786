"""The published ``rubin-repertoire`` client against a real server process.

The server runs the idfdev Phalanx configuration (values.yaml, values-idfdev.yaml
and what Argo CD injects), so every answer below is what that configuration
implies: rule URLs on its ``baseHostname``, HiPS lists on the host the client
used to reach the server.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from rubin.repertoire import DiscoveryClient

from tests.support.contract import checking_httpx_client
from tests.support.server import RunningServer
from tests.test_golden import values_files

BASE = "https://data-dev.lsst.cloud"


@pytest.fixture
def idfdev(server_factory: Callable[..., RunningServer], tmp_path: Path) -> RunningServer:
    """``repertoire serve`` with the idfdev configuration and no secrets."""
    secrets = tmp_path / "empty-secrets"
    secrets.mkdir()
    args = [arg for path in values_files("idfdev") for arg in ("--values", str(path))]
    return server_factory([*args, "--secrets-dir", str(secrets), "--auth", "gafaelfawr"])


@pytest.fixture
async def client(idfdev: RunningServer) -> AsyncIterator[DiscoveryClient]:
    """The published client, pointed at that server; responses checked against the contract."""
    async with checking_httpx_client() as http_client:
        yield DiscoveryClient(http_client, base_url=idfdev.base_url + "/repertoire")


async def test_environment_and_applications(client: DiscoveryClient) -> None:
    assert await client.environment_name() == "idfdev"
    applications = await client.applications()
    assert applications == sorted(applications)
    assert {"argocd", "gafaelfawr", "nublado", "sia", "tap", "vo-cutouts"} <= set(applications)
    assert "consdbtap" not in applications


async def test_internal_services(client: DiscoveryClient) -> None:
    assert await client.url_for_internal("gafaelfawr") == f"{BASE}/auth"
    assert await client.url_for_internal("gafaelfawr", version="v1") == f"{BASE}/auth/api/v1"
    assert await client.url_for_internal("gafaelfawr", version="v2") is None
    assert await client.url_for_internal("datalink", version="datalink-links-1.1") == (
        f"{BASE}/api/datalink/links"
    )
    assert await client.versions_for_internal("noteburst") == ["v1"]
    assert await client.versions_for_internal("mobu") == []
    # docverse has a rule but is not enabled in idfdev.
    assert await client.url_for_internal("docverse") is None
    assert await client.versions_for_internal("docverse") is None


async def test_ui_services(client: DiscoveryClient) -> None:
    assert await client.url_for_ui("squareone") == f"{BASE}/"
    assert await client.url_for_ui("portal") == f"{BASE}/portal/app/"
    # nublado is in useSubdomains, so its subdomain rule applies.
    assert await client.url_for_ui("nublado") == "https://nb.data-dev.lsst.cloud/nb"
    assert await client.url_for_ui("gafaelfawr") is None


async def test_datasets_and_butler(client: DiscoveryClient) -> None:
    # Available in idfdev and known in values.yaml; efd and live are not available.
    assert await client.datasets() == ["dp02", "dp03", "dp1", "dp2", "prompt"]
    assert await client.butler_config_for("dp1") == f"{BASE}/api/butler/repo/dp1/butler.yaml"
    assert await client.butler_config_for("dp03") is None
    assert await client.butler_config_for("efd") is None


async def test_data_services(client: DiscoveryClient) -> None:
    assert await client.url_for_data("sia", "dp1") == f"{BASE}/api/sia/dp1"
    assert await client.url_for_data("sia", "dp02", version="sia-query-2.0") == (
        f"{BASE}/api/sia/dp02/query"
    )
    assert await client.url_for_data("tap", "dp03") == f"{BASE}/api/ssotap"
    assert await client.url_for_data("tap", "prompt") == f"{BASE}/api/ppdbtap"
    assert await client.url_for_data("cutout", "dp1", version="soda-sync-1.0") == (
        f"{BASE}/api/cutout/sync"
    )
    assert await client.url_for_data("cutout", "dp03") is None
    assert await client.url_for_data("tap", "efd") is None
    # gms lists no datasets, so every available dataset has it.
    assert await client.url_for_data("gms", "prompt") == f"{BASE}/auth/gms"
    assert await client.versions_for_data("cutout", "dp2") == ["soda-async-1.0", "soda-sync-1.0"]
    assert await client.versions_for_data("alerts", "prompt") == []
    assert await client.versions_for_data("alerts", "dp1") is None


async def test_hips_follows_the_host_the_client_used(
    client: DiscoveryClient, idfdev: RunningServer
) -> None:
    expected = f"{idfdev.base_url}/api/hips/v2/dp1/list"
    assert await client.url_for_data("hips", "dp1") == expected
    assert await client.url_for_data("hips", "dp1", version="hips-list-1.0") == expected
    assert await client.url_for_data("hips", "dp03") is None
