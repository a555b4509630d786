"""Shared fixtures: a deployment on disk, the in-process API, the fixtures dir."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp.pytest_plugin import AiohttpClient

from server.app import create_app
from server.auth import create_token
from server.state import ServiceSettings
from tests.support.contract import ContractClient
from tests.support.k8s_secrets import KubernetesSecretDir

pytest_plugins = ["tests.support.server", "tests.support.influxdb"]

REPO = Path(__file__).resolve().parents[1]
SHARED_FIXTURES = REPO.parent / "shared" / "fixtures"
PHALANX = SHARED_FIXTURES / "phalanx"
GOLDEN = SHARED_FIXTURES / "golden"

SCOPE = "read:sasquatch"
EFD_PASSWORD = "efd-reader-Pa55word"
REMOTE_PASSWORD = "remote-reader-Pa55word"

STANDARD_VALUES: dict[str, Any] = {
    "image": {"repository": "ignored/by-us"},
    "config": {
        "environmentName": "testenv",
        "applications": ["sasquatch", "argocd", "repertoire"],
        "trustedProxies": ["127.0.0.1/32"],
        "influxdbDatabases": {
            "test_efd": {
                "url": "http://influxdb.example.org:8086",
                "database": "efd",
                "username": "efdreader",
                "passwordKey": "test_efd-password",
                "schemaRegistry": "http://registry.example.org:8081",
                "local": True,
            },
            "remote_efd": {
                "url": "https://remote.example.org/influxdb/",
                "database": "efd",
                "username": "remotereader",
                "passwordKey": "remote_efd-password",
                "schemaRegistry": "https://remote.example.org/registry",
            },
        },
    },
}


@dataclass(frozen=True)
class Deployment:
    """A configuration on disk: values file, Kubernetes-style secrets, tokens."""

    values: Path
    secrets: KubernetesSecretDir
    tokens_file: Path
    token: str
    unscoped_token: str

    def settings(self, **changes: Any) -> ServiceSettings:
        """Settings for ``create_app`` in token mode."""
        settings = ServiceSettings(
            values_files=(self.values,),
            secrets_dir=self.secrets.path,
            auth_mode="tokens",
            tokens_file=self.tokens_file,
        )
        return replace(settings, **changes)

    def cli_args(self) -> list[str]:
        """The same, as ``repertoire serve`` options."""
        return [
            "--values",
            str(self.values),
            "--secrets-dir",
            str(self.secrets.path),
            "--auth",
            "tokens",
            "--tokens-file",
            str(self.tokens_file),
        ]

    def bearer(self, token: str | None = None) -> dict[str, str]:
        """An Authorization header for ``token`` (default: the scoped one)."""
        return {"Authorization": f"Bearer {token or self.token}"}


def write_values(path: Path, values: dict[str, Any]) -> Path:
    """Write a Helm values file."""
    path.write_text(yaml.safe_dump(values, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def deployment(tmp_path: Path) -> Deployment:
    """The standard two-database deployment."""
    tokens_file = tmp_path / "tokens.yaml"
    return Deployment(
        values=write_values(tmp_path / "values-test.yaml", STANDARD_VALUES),
        secrets=KubernetesSecretDir(
            tmp_path / "secrets",
            {"test_efd-password": EFD_PASSWORD + "\n", "remote_efd-password": REMOTE_PASSWORD},
        ),
        tokens_file=tokens_file,
        token=create_token(tokens_file, "alice", [SCOPE, "read:image"]),
        unscoped_token=create_token(tokens_file, "bob", ["read:image"]),
    )


@pytest.fixture
async def api(
    aiohttp_client: AiohttpClient, deployment: Deployment
) -> AsyncIterator[ContractClient]:
    """The standard deployment served in-process; responses checked against the contract."""
    client = await aiohttp_client(create_app(deployment.settings()))
    yield ContractClient(client)
