"""The configurations under test, written to disk as ``repertoire serve`` reads them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from server.auth import create_token
from server.config import load_config

__all__ = ["Deployment", "large", "realistic"]

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO.parent / "shared" / "fixtures"
PHALANX = FIXTURES / "phalanx"


@dataclass(frozen=True, slots=True)
class Deployment:
    """Options for ``serve``, a scoped token and the database labels."""

    serve_args: list[str]
    token: str
    labels: list[str]


def _deploy(workdir: Path, values_files: list[Path]) -> Deployment:
    """Write a password file per database and a tokens file holding one token."""
    config = load_config(tuple(values_files), ())
    secrets_dir = workdir / "secrets"
    secrets_dir.mkdir(parents=True)
    for label, database in config.influxdb_databases.items():
        (secrets_dir / database.password_key).write_text(f"bench-{label}-Pa55word\n")
    tokens_file = workdir / "tokens.yaml"
    token = create_token(tokens_file, "bench", [config.credentials_scope])
    args: list[str] = []
    for path in values_files:
        args += ["--values", str(path)]
    args += [
        "--secrets-dir",
        str(secrets_dir),
        "--auth",
        "tokens",
        "--tokens-file",
        str(tokens_file),
    ]
    return Deployment(args, token, sorted(config.influxdb_databases))


def realistic(workdir: Path, environment: str = "summit") -> Deployment:
    """Phalanx's chart values, an environment's values and its injected apps."""
    values = [
        PHALANX / "values.yaml",
        PHALANX / f"values-{environment}.yaml",
        FIXTURES / "golden" / f"injected-{environment}.yaml",
    ]
    return _deploy(workdir, values)


def large(workdir: Path, databases: int = 1000, applications: int = 500) -> Deployment:
    """Chart values plus a generated environment far bigger than any real one."""
    config: dict[str, Any] = {
        "environmentName": "bench-large",
        "baseHostname": "bench.example.org",
        "applications": [f"application-{index:04d}" for index in range(applications)],
        "influxdbDatabases": {
            f"efd_{index:04d}": {
                "url": f"https://influxdb-{index:04d}.example.org/influxdb/",
                "database": "efd",
                "username": "efdreader",
                "passwordKey": f"efd_{index:04d}-password",
                "schemaRegistry": "http://sasquatch-schema-registry.sasquatch:8081",
                "local": index % 2 == 0,
            }
            for index in range(databases)
        },
    }
    workdir.mkdir(parents=True)
    generated = workdir / "values-large.yaml"
    generated.write_text(yaml.safe_dump({"config": config}), encoding="utf-8")
    return _deploy(workdir, [PHALANX / "values.yaml", generated])
