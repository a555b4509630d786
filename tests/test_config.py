"""Configuration loading: Helm merge, Phalanx files as they are, clear errors."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

import server.config
from server.config import InvalidConfigError, load_config, report_unserved_keys
from server.values import load_values
from tests.conftest import PHALANX, STANDARD_VALUES, Deployment, write_values
from tests.support.server import run_cli

ENVIRONMENT_FILES = sorted(PHALANX.glob("values-*.yaml"))


def test_fixtures_are_present() -> None:
    assert len(ENVIRONMENT_FILES) >= 20, f"Phalanx fixtures missing under {PHALANX}"


@pytest.mark.parametrize("values_file", ENVIRONMENT_FILES, ids=lambda path: path.name)
def test_every_phalanx_environment_loads(values_file: Path) -> None:
    config = load_config([PHALANX / "values.yaml", values_file])
    assert config.path_prefix == "/repertoire"
    env_databases = (load_values([values_file]).tree.get("config") or {}).get(
        "influxdbDatabases"
    ) or {}
    assert sorted(config.influxdb_databases) == sorted(env_databases)


def test_summit_databases_are_parsed() -> None:
    config = load_config([PHALANX / "values.yaml", PHALANX / "values-summit.yaml"])
    summit = config.influxdb_databases["summit_efd"]
    assert summit.url == "https://summit-lsp.lsst.codes/influxdb/"
    assert summit.schema_registry == "http://sasquatch-schema-registry.sasquatch:8081/"
    assert summit.password_key == "summit_efd-password"
    assert summit.local is True
    assert config.influxdb_databases["usdf_efd"].local is False


def test_unserved_upstream_keys_are_logged_once(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(server.config, "_already_reported_unserved", set())
    config = load_config([PHALANX / "values.yaml"])
    with caplog.at_level(logging.INFO, logger="repertoire.config"):
        report_unserved_keys(config)
        report_unserved_keys(config)
    lines = [r.getMessage() for r in caplog.records if "not served" in r.getMessage()]
    assert len(lines) == 1
    for key in ("ivoaRegistry", "metrics", "sentry", "slackAlerts", "tap"):
        assert key in lines[0]


def test_helm_merge_semantics(tmp_path: Path) -> None:
    base = write_values(
        tmp_path / "base.yaml",
        {
            "config": {
                "applications": ["a", "b"],
                "hips": {"datasets": {"dp1": {"paths": ["x"]}}},
                "environmentName": "base",
            }
        },
    )
    override = write_values(
        tmp_path / "env.yaml", {"config": {"applications": ["c"], "hips": {"datasets": {}}}}
    )
    merged = load_values([base, override], ["config.environmentName=from-set"])
    settings = merged.tree["config"]
    assert settings["applications"] == ["c"]  # lists replace
    assert settings["hips"]["datasets"] == {"dp1": {"paths": ["x"]}}  # maps deep-merge
    assert settings["environmentName"] == "from-set"
    assert merged.source_of(("config", "applications")) == str(override)
    assert merged.source_of(("config", "hips", "datasets", "dp1", "paths")) == str(base)


def test_set_option_types_and_lists(tmp_path: Path) -> None:
    base = write_values(tmp_path / "base.yaml", STANDARD_VALUES)
    config = load_config(
        [base],
        [
            "config.applications={tap,argocd}",
            "config.cacheMaxAge=60",
            "config.influxdbDatabases.test_efd.local=false",
        ],
    )
    assert config.applications == ("argocd", "tap")
    assert config.cache_max_age == 60
    assert config.influxdb_databases["test_efd"].local is False


def _with_database(tmp_path: Path, **changes: Any) -> Path:
    stanza = dict(STANDARD_VALUES["config"]["influxdbDatabases"]["test_efd"], **changes)
    stanza = {key: value for key, value in stanza.items() if value is not None}
    values = {"config": {"influxdbDatabases": {"test_efd": stanza}}}
    return write_values(tmp_path / "values-bad.yaml", values)


BAD_DATABASES = [
    ({"url": "influxdb.example.org/efd"}, "url", "must be an absolute http(s) URL"),
    ({"url": "ftp://influxdb.example.org/"}, "url", "must be an absolute http(s) URL"),
    ({"schemaRegistry": "not a url"}, "schemaRegistry", "absolute http(s) URL"),
    ({"passwordKey": "../etc/passwd"}, "passwordKey", "must be a plain name"),
    ({"passwordKey": ".."}, "passwordKey", "must be a plain name"),
    ({"passwordKey": None}, "passwordKey", "is required"),
    ({"username": 42}, "username", "must be a non-empty string"),
    ({"local": "yes"}, "local", "must be true or false"),
    ({"pasword": "oops"}, "pasword", "unknown key"),
]


@pytest.mark.parametrize(("changes", "key", "message"), BAD_DATABASES)
def test_bad_database_stanza(
    tmp_path: Path, changes: dict[str, Any], key: str, message: str
) -> None:
    path = _with_database(tmp_path, **changes)
    with pytest.raises(InvalidConfigError) as caught:
        load_config([path])
    error = caught.value.errors[0]
    assert error.source == str(path)
    assert error.path == ("config", "influxdbDatabases", "test_efd", key)
    assert message in str(error)


def test_label_must_be_plain(tmp_path: Path) -> None:
    stanza = STANDARD_VALUES["config"]["influxdbDatabases"]["test_efd"]
    path = write_values(tmp_path / "v.yaml", {"config": {"influxdbDatabases": {"a/b": stanza}}})
    with pytest.raises(InvalidConfigError, match=r"influxdbDatabases\.a/b: database label"):
        load_config([path])


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = write_values(
        tmp_path / "v.yaml",
        {"config": {"applications": "argocd", "nonsenseKey": 1, "pathPrefix": "repertoire"}},
    )
    with pytest.raises(InvalidConfigError) as caught:
        load_config([path])
    paths = {error.path for error in caught.value.errors}
    assert paths == {
        ("config", "applications"),
        ("config", "nonsenseKey"),
        ("config", "pathPrefix"),
    }


def test_error_names_the_file_that_set_the_key(tmp_path: Path) -> None:
    good = write_values(tmp_path / "values.yaml", STANDARD_VALUES)
    bad = write_values(
        tmp_path / "values-env.yaml",
        {"config": {"influxdbDatabases": {"test_efd": {"url": "nope"}}}},
    )
    with pytest.raises(InvalidConfigError) as caught:
        load_config([good, bad])
    assert str(caught.value) == (
        f"{bad}: config.influxdbDatabases.test_efd.url: must be an absolute http(s) URL, got 'nope'"
    )


CLI_FAILURES = [
    ("values-missing.yaml", None, "file not found"),
    ("values-syntax.yaml", "config: [unclosed\n", "line 2"),
    ("values-list.yaml", "- a\n- b\n", "expected a mapping at the top of the file"),
    (
        "values-unknown.yaml",
        "config:\n  influxdbDatabase: {}\n",
        "config.influxdbDatabase: unknown key",
    ),
    (
        "values-notmap.yaml",
        "config:\n  influxdbDatabases: [a]\n",
        "config.influxdbDatabases: must be a mapping, got a list",
    ),
]


@pytest.mark.parametrize(("name", "content", "message"), CLI_FAILURES)
def test_bad_configuration_exits_2_with_clear_message(
    tmp_path: Path, deployment: Deployment, name: str, content: str | None, message: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content, encoding="utf-8")
    result = run_cli(["serve", "--values", str(path), "--secrets-dir", str(tmp_path)])
    assert result.returncode == 2
    assert str(path) in result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_tokens_file_exits_2(tmp_path: Path, deployment: Deployment) -> None:
    tokens = tmp_path / "bad-tokens.yaml"
    tokens.write_text("tokens:\n  - hash: md5:abc\n    username: x\n    scopes: []\n")
    args = [*deployment.cli_args()[:-1], str(tokens)]
    result = run_cli(["serve", *args])
    assert result.returncode == 2
    assert f"{tokens}: tokens[0].hash: must be a string starting with sha256:" in result.stderr


def test_tokens_mode_needs_tokens_file(deployment: Deployment) -> None:
    result = run_cli(
        [
            "serve",
            "--values",
            str(deployment.values),
            "--secrets-dir",
            str(deployment.secrets.path),
            "--auth",
            "tokens",
        ]
    )
    assert result.returncode == 2
    assert "--auth tokens needs --tokens-file" in result.stderr
