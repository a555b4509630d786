"""Every route and every error path, in-process, checked against openapi.yaml."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest
from aiohttp.pytest_plugin import AiohttpClient

from server.app import create_app
from server.discovery import DiscoveryService
from server.keys import AUDIT_KEY
from tests.conftest import EFD_PASSWORD, REMOTE_PASSWORD, SCOPE, Deployment
from tests.support.contract import ContractClient

CREDENTIALS = "/repertoire/discovery/influxdb/test_efd"


async def test_health(api: ContractClient) -> None:
    response = await api.get("/health")
    assert response.status == 200
    assert response.json() == {"status": "ok"}


async def test_index_metadata(api: ContractClient) -> None:
    response = await api.get("/repertoire/")
    metadata = response.json()["metadata"]
    assert response.status == 200
    assert metadata["name"] == "repertoire"
    assert set(metadata) == {
        "name",
        "version",
        "description",
        "repository_url",
        "documentation_url",
    }


async def test_discovery_document(api: ContractClient) -> None:
    response = await api.get("/repertoire/discovery", {"Host": "rsp.example.org"})
    assert response.status == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.json() == {
        "applications": ["argocd", "repertoire", "sasquatch"],
        "environment_name": "testenv",
        "influxdb_databases": {
            "remote_efd": {
                "url": "https://remote.example.org/influxdb/",
                "database": "efd",
                "schema_registry": "https://remote.example.org/registry",
                "credentials_url": "http://rsp.example.org/repertoire/discovery/influxdb/remote_efd",
            },
            "test_efd": {
                "url": "http://influxdb.example.org:8086/",
                "database": "efd",
                "schema_registry": "http://registry.example.org:8081/",
                "credentials_url": "http://rsp.example.org/repertoire/discovery/influxdb/test_efd",
                "local": True,
            },
        },
    }


async def test_discovery_is_the_same_bytes_until_config_changes(api: ContractClient) -> None:
    first = await api.get("/repertoire/discovery")
    second = await api.get("/repertoire/discovery")
    assert first.body == second.body
    assert first.headers["ETag"] == second.headers["ETag"]
    assert first.headers["Cache-Control"] == "public, max-age=300"


async def test_conditional_get_answers_304_without_body(api: ContractClient) -> None:
    etag = (await api.get("/repertoire/discovery")).headers["ETag"]
    response = await api.get("/repertoire/discovery", {"If-None-Match": etag})
    assert response.status == 304
    assert response.body == b""
    stale = await api.get("/repertoire/discovery", {"If-None-Match": '"stale"'})
    assert stale.status == 200


async def test_forwarded_headers_from_trusted_proxy(api: ContractClient) -> None:
    # The test client connects from 127.0.0.1, which the deployment trusts.
    response = await api.get(
        "/repertoire/discovery",
        {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "data.example.org"},
    )
    urls = [db["credentials_url"] for db in response.json()["influxdb_databases"].values()]
    assert all(url.startswith("https://data.example.org/repertoire/") for url in urls)


async def test_forwarded_headers_ignored_from_untrusted_peer(
    aiohttp_client: AiohttpClient, deployment: Deployment
) -> None:
    app = create_app(deployment.settings(set_options=("config.trustedProxies={10.0.0.0/8}",)))
    api = ContractClient(await aiohttp_client(app))
    response = await api.get(
        "/repertoire/discovery",
        {
            "Host": "direct.example.org",
            "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": "evil.example.com",
        },
    )
    url = response.json()["influxdb_databases"]["test_efd"]["credentials_url"]
    assert url == "http://direct.example.org/repertoire/discovery/influxdb/test_efd"


async def test_unusable_host_header_is_400(api: ContractClient) -> None:
    response = await api.get("/repertoire/discovery", {"Host": 'x"y/z'})
    assert response.status == 400
    assert response.json()["detail"][0]["loc"] == ["header", "Host"]


async def test_credentials_with_scoped_token(api: ContractClient, deployment: Deployment) -> None:
    response = await api.get(CREDENTIALS, deployment.bearer())
    assert response.status == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert "Access-Control-Allow-Origin" not in response.headers
    assert response.json() == {
        "url": "http://influxdb.example.org:8086/",
        "database": "efd",
        "username": "efdreader",
        "password": EFD_PASSWORD,
        "schema_registry": "http://registry.example.org:8081/",
        "local": True,
    }


async def test_all_credentials(api: ContractClient, deployment: Deployment) -> None:
    response = await api.get("/repertoire/discovery/influxdb", deployment.bearer())
    body = response.json()
    assert response.status == 200
    assert "Access-Control-Allow-Origin" not in response.headers
    assert sorted(body) == ["remote_efd", "test_efd"]
    assert body["remote_efd"]["password"] == REMOTE_PASSWORD
    assert body["test_efd"]["password"] == EFD_PASSWORD


@pytest.mark.parametrize("path", [CREDENTIALS, "/repertoire/discovery/influxdb"])
async def test_no_token_is_401_with_challenge(api: ContractClient, path: str) -> None:
    response = await api.get(path)
    assert response.status == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="repertoire"'
    assert response.json()["detail"][0]["type"] == "not_authenticated"


async def test_unknown_token_is_401_invalid_token(api: ContractClient) -> None:
    response = await api.get(CREDENTIALS, {"Authorization": "Bearer rpt-not-a-real-token"})
    assert response.status == 401
    assert response.headers["WWW-Authenticate"] == (
        'Bearer realm="repertoire", error="invalid_token"'
    )


async def test_non_bearer_authorization_is_401(api: ContractClient) -> None:
    response = await api.get(CREDENTIALS, {"Authorization": "Basic ZWZkOnNlY3JldA=="})
    assert response.status == 401
    assert "error=" in response.headers["WWW-Authenticate"]


async def test_token_without_scope_is_403(api: ContractClient, deployment: Deployment) -> None:
    response = await api.get(CREDENTIALS, deployment.bearer(deployment.unscoped_token))
    assert response.status == 403
    assert response.headers["WWW-Authenticate"] == (
        f'Bearer realm="repertoire", error="insufficient_scope", scope="{SCOPE}"'
    )
    assert EFD_PASSWORD not in response.body.decode()


async def test_required_scope_is_configurable(
    aiohttp_client: AiohttpClient, deployment: Deployment
) -> None:
    app = create_app(deployment.settings(set_options=("config.credentialsScope=read:image",)))
    api = ContractClient(await aiohttp_client(app))
    response = await api.get(CREDENTIALS, deployment.bearer(deployment.unscoped_token))
    assert response.status == 200


async def test_unknown_database_is_404(api: ContractClient, deployment: Deployment) -> None:
    response = await api.get("/repertoire/discovery/influxdb/nosuch", deployment.bearer())
    assert response.status == 404
    assert response.json() == {
        "detail": [
            {
                "loc": ["path", "database"],
                "msg": "Database nosuch not found",
                "type": "database_not_found",
            }
        ]
    }


async def test_unknown_route_and_method_are_json(api: ContractClient) -> None:
    missing = await api.get("/repertoire/nowhere")
    assert missing.status == 404
    assert missing.json()["detail"][0]["type"] == "not_found"
    wrong_method = await api.request("POST", "/repertoire/discovery")
    assert wrong_method.status == 405
    assert wrong_method.json()["detail"][0]["type"] == "method_not_allowed"
    assert "GET" in wrong_method.headers["Allow"]


async def test_rotated_secret_is_served_without_restart(
    api: ContractClient, deployment: Deployment
) -> None:
    assert (await api.get(CREDENTIALS, deployment.bearer())).json()["password"] == EFD_PASSWORD
    deployment.secrets.update(
        {"test_efd-password": "rotated-Pa55word\n", "remote_efd-password": REMOTE_PASSWORD}
    )
    assert (await api.get(CREDENTIALS, deployment.bearer())).json()["password"] == (
        "rotated-Pa55word"
    )


async def test_missing_secret_fails_only_that_database(
    api: ContractClient, deployment: Deployment, caplog: pytest.LogCaptureFixture
) -> None:
    deployment.secrets.update({"remote_efd-password": REMOTE_PASSWORD})
    with caplog.at_level(logging.ERROR):
        response = await api.get(CREDENTIALS, deployment.bearer())
    assert response.status == 503
    assert (
        response.json()["detail"][0]["msg"] == "Credentials for database test_efd are unavailable"
    )
    assert "test_efd-password" in caplog.text
    other = await api.get("/repertoire/discovery/influxdb/remote_efd", deployment.bearer())
    assert other.status == 200
    assert (await api.get("/repertoire/discovery")).status == 200
    everything = await api.get("/repertoire/discovery/influxdb", deployment.bearer())
    assert everything.status == 503
    assert REMOTE_PASSWORD not in everything.body.decode()


async def test_startup_warns_about_missing_secret(
    aiohttp_client: AiohttpClient, deployment: Deployment, caplog: pytest.LogCaptureFixture
) -> None:
    deployment.secrets.update({"remote_efd-password": REMOTE_PASSWORD})
    with caplog.at_level(logging.WARNING):
        await aiohttp_client(create_app(deployment.settings()))
    assert "test_efd" in caplog.text
    assert "remote_efd" not in caplog.text


async def test_audit_line_per_retrieval_without_password(
    aiohttp_client: AiohttpClient, deployment: Deployment
) -> None:
    audit_stream = io.StringIO()
    app = create_app(deployment.settings(), audit_stream=audit_stream)
    api = ContractClient(await aiohttp_client(app))
    await api.get(CREDENTIALS, deployment.bearer())
    await api.get("/repertoire/discovery/influxdb", deployment.bearer())
    await api.get(CREDENTIALS, deployment.bearer(deployment.unscoped_token))
    app[AUDIT_KEY].flush()
    lines = [json.loads(line) for line in audit_stream.getvalue().splitlines()]
    assert [(line["username"], line.get("database")) for line in lines] == [
        ("alice", "test_efd"),
        ("alice", None),
    ]
    assert lines[1]["databases"] == ["remote_efd", "test_efd"]
    assert lines[0]["logger"] == "repertoire.audit"
    assert EFD_PASSWORD not in audit_stream.getvalue()


async def test_gafaelfawr_mode(aiohttp_client: AiohttpClient, deployment: Deployment) -> None:
    app = create_app(deployment.settings(auth_mode="gafaelfawr", tokens_file=None))
    api = ContractClient(await aiohttp_client(app))
    anonymous = await api.get(CREDENTIALS)
    assert anonymous.status == 401
    assert anonymous.json()["detail"][0]["loc"] == ["header", "X-Auth-Request-User"]
    response = await api.get(CREDENTIALS, {"X-Auth-Request-User": "carol"})
    assert response.status == 200
    assert response.json()["password"] == EFD_PASSWORD


async def test_openapi_is_served(api: ContractClient) -> None:
    as_json = await api.get("/repertoire/openapi.json")
    as_yaml = await api.get("/repertoire/openapi.yaml")
    assert as_json.status == as_yaml.status == 200
    assert "/repertoire/discovery/influxdb/{database}" in as_json.json()["paths"]
    assert b"openapi: 3.0.3" in as_yaml.body


async def test_custom_path_prefix(aiohttp_client: AiohttpClient, deployment: Deployment) -> None:
    app = create_app(deployment.settings(set_options=("config.pathPrefix=/svc/disco",)))
    client = await aiohttp_client(app)
    async with client.get("/svc/disco/discovery", headers={"Host": "h.example"}) as response:
        body = await response.json()
    url = body["influxdb_databases"]["test_efd"]["credentials_url"]
    assert url == "http://h.example/svc/disco/discovery/influxdb/test_efd"
    async with client.get("/svc/disco/openapi.json") as response:
        assert "/svc/disco/discovery" in (await response.json())["paths"]
    async with client.get("/repertoire/discovery") as response:
        assert response.status == 404


def test_no_secret_in_repr_or_errors(deployment: Deployment, tmp_path: Path) -> None:
    app = create_app(deployment.settings())
    snapshot_text = repr(app) + json.dumps(str(deployment.secrets))
    assert EFD_PASSWORD not in snapshot_text


async def test_unexpected_error_is_json_500_without_trace(
    api: ContractClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(self: DiscoveryService, external_base: str) -> None:
        raise RuntimeError("internal detail that must stay in the log")

    monkeypatch.setattr(DiscoveryService, "render", broken)
    with caplog.at_level(logging.ERROR):
        response = await api.get("/repertoire/discovery")
    assert response.status == 500
    assert response.json() == {
        "detail": [{"loc": [], "msg": "Internal server error", "type": "internal_error"}]
    }
    assert "internal detail" in caplog.text


async def test_secret_rewritten_in_place_is_served(
    api: ContractClient, deployment: Deployment
) -> None:
    # Same size, same inode, possibly the same clock tick: still re-read.
    secret = deployment.secrets.path / "..data" / "test_efd-password"
    for password in ("first-Pa55", "other-Pa55", "third-Pa55"):
        secret.write_text(password)
        response = await api.get(CREDENTIALS, deployment.bearer())
        assert response.json()["password"] == password
