"""The published ``rubin-repertoire`` client works against our server unchanged."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from rubin.repertoire import DiscoveryClient, RepertoireWebError

from tests.conftest import EFD_PASSWORD, Deployment
from tests.support.contract import checking_httpx_client
from tests.support.server import RunningServer


@pytest.fixture
async def client(
    server_factory: Callable[..., RunningServer], deployment: Deployment
) -> AsyncIterator[DiscoveryClient]:
    """The published client, over an httpx client that checks every response."""
    server = server_factory(deployment.cli_args())
    async with checking_httpx_client() as http_client:
        yield DiscoveryClient(http_client, base_url=f"{server.base_url}/repertoire")


async def test_influxdb_databases(client: DiscoveryClient) -> None:
    assert await client.influxdb_databases() == ["remote_efd", "test_efd"]
    assert await client.influxdb_databases(local=True) == ["test_efd"]
    assert await client.influxdb_databases(local=False) == ["remote_efd"]
    assert await client.applications() == ["argocd", "repertoire", "sasquatch"]
    assert await client.environment_name() == "testenv"


async def test_connection_info_without_credentials(client: DiscoveryClient) -> None:
    info = await client.influxdb_connection_info("test_efd")
    assert info is not None
    assert str(info.url) == "http://influxdb.example.org:8086/"
    assert info.database == "efd"
    assert str(info.schema_registry) == "http://registry.example.org:8081/"
    assert info.local is True
    assert await client.influxdb_connection_info("nosuch") is None


async def test_credentials(client: DiscoveryClient, deployment: Deployment) -> None:
    credentials = await client.influxdb_credentials("test_efd", deployment.token)
    assert credentials is not None
    assert credentials.username == "efdreader"
    assert credentials.password is not None
    assert credentials.password.get_secret_value() == EFD_PASSWORD
    assert credentials.database == "efd"
    remote = await client.influxdb_credentials("remote_efd", deployment.token)
    assert remote is not None
    assert remote.local is False


@pytest.mark.parametrize("which", ["unknown", "unscoped"])
async def test_wrong_token_raises(
    client: DiscoveryClient, deployment: Deployment, which: str
) -> None:
    token = "rpt-wrong" if which == "unknown" else deployment.unscoped_token
    with pytest.raises(RepertoireWebError) as caught:
        await client.influxdb_credentials("test_efd", token)
    assert caught.value.status == (401 if which == "unknown" else 403)
