"""``repertoire validate`` over every real Phalanx environment, and each finding."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from server.config import InvalidConfigError, load_config
from server.phalanx_secrets import CopyRule, GenerateRule, load_secret_declarations
from server.validate import Finding, validate
from tests.conftest import PHALANX, STANDARD_VALUES, write_values
from tests.support.k8s_secrets import KubernetesSecretDir
from tests.support.server import run_cli

ENVIRONMENTS = sorted(
    path.name.removeprefix("values-").removesuffix(".yaml")
    for path in PHALANX.glob("values-*.yaml")
)

_HIPS_KEPT = ("warning", "config.hips.datasets", "empty map does nothing: Helm's merge keeps"
              " the keys dp02, dp1, dp2 set by values.yaml")
EXPECTED: dict[str, list[tuple[str, str, str, str]]] = {
    "minikube": [("warning", "values-minikube.yaml", "resources",
                  "empty map does nothing: Helm's merge keeps the keys limits, requests set by"
                  " values.yaml")],
    "tacc-spherex": [(_HIPS_KEPT[0], "values-tacc-spherex.yaml", *_HIPS_KEPT[1:])],
    "tacc-spherex-dev": [(_HIPS_KEPT[0], "values-tacc-spherex-dev.yaml", *_HIPS_KEPT[1:])],
    "usdfdev": [(_HIPS_KEPT[0], "values-usdfdev.yaml", *_HIPS_KEPT[1:])],
    "usdfint": [(_HIPS_KEPT[0], "values-usdfint.yaml", *_HIPS_KEPT[1:])],
    "usdfprod": [(_HIPS_KEPT[0], "values-usdfprod.yaml", *_HIPS_KEPT[1:])],
    "tucson-teststand": [
        ("error", "values-tucson-teststand.yaml",
         "config.influxdbDatabases.tucson_teststand_efd.passwordKey",
         "'idfdev_efd-password' is not declared in secrets.yaml, secrets-tucson-teststand.yaml"),
        ("warning", "secrets-tucson-teststand.yaml", "tucson_teststand_efd-password",
         "declared password secret that no database uses"),
        ("warning", "values-tucson-teststand.yaml",
         "config.influxdbDatabases.tucson_teststand_efd.passwordKey",
         "'idfdev_efd-password' does not follow the convention <label>-password"),
    ],
}
"""What the real files hold; every other environment is clean."""


def environment_args(env: str) -> list[str]:
    """``validate`` options for one environment, with what Argo CD injects."""
    args = ["--values", str(PHALANX / "values.yaml"),
            "--values", str(PHALANX / f"values-{env}.yaml"),
            "--set", f"config.environmentName={env}",
            "--set", f"config.baseHostname={env}.example.org",
            "--secrets", str(PHALANX / "secrets.yaml")]
    if (PHALANX / f"secrets-{env}.yaml").exists():
        args += ["--secrets", str(PHALANX / f"secrets-{env}.yaml")]
    return args


def summary(findings: list[Finding]) -> list[tuple[str, str, str, str]]:
    """Findings with file names instead of paths."""
    return [(f.severity, Path(f.source).name, f.key, f.message.replace(f"{PHALANX}/", ""))
            for f in findings]


def test_every_environment_is_covered() -> None:
    assert len(ENVIRONMENTS) >= 20
    assert set(EXPECTED) <= set(ENVIRONMENTS)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_real_environment_findings(env: str) -> None:
    secrets = [PHALANX / "secrets.yaml", PHALANX / f"secrets-{env}.yaml"]
    findings = validate(
        [PHALANX / "values.yaml", PHALANX / f"values-{env}.yaml"],
        [f"config.environmentName={env}"],
        [path for path in secrets if path.exists()],
    )
    assert summary(findings) == EXPECTED.get(env, [])


def test_cli_tucson_teststand_json() -> None:
    result = run_cli(["validate", *environment_args("tucson-teststand"), "--format", "json"])
    assert result.returncode == 1
    document = json.loads(result.stdout)
    assert (document["errors"], document["warnings"]) == (1, 2)
    first = document["findings"][0]
    assert first["file"] == str(PHALANX / "values-tucson-teststand.yaml")
    assert first["key"] == "config.influxdbDatabases.tucson_teststand_efd.passwordKey"
    assert first["hint"] == ("declare idfdev_efd-password with a description in"
                             " secrets-<env>.yaml, or correct passwordKey")


def test_cli_warnings_exit_0_unless_strict() -> None:
    result = run_cli(["validate", *environment_args("usdfprod")])
    assert result.returncode == 0
    assert result.stdout.splitlines() == [
        f"warning: {PHALANX}/values-usdfprod.yaml: config.hips.datasets: empty map does"
        f" nothing: Helm's merge keeps the keys dp02, dp1, dp2 set by {PHALANX}/values.yaml",
        "    fix: to remove a key, set it to null here (e.g. datasets: {dp02: null})",
        "0 error(s), 1 warning(s)",
    ]
    assert run_cli(["validate", *environment_args("usdfprod"), "--strict"]).returncode == 1


def test_cli_clean_environment() -> None:
    result = run_cli(["validate", *environment_args("summit")])
    assert (result.returncode, result.stdout) == (0, "0 error(s), 0 warning(s)\n")


def test_server_errors_are_reported_with_the_same_messages(tmp_path: Path) -> None:
    values = {"config": {"pathPrefix": "relative", "cacheMaxAge": -1, "influxdbDatabases": {
        "bad": {"url": "ftp://influx.example.org/", "database": "efd", "username": "r",
                "passwordKey": "bad-password", "schemaRegistry": "registry:8081"}}}}
    path = write_values(tmp_path / "values.yaml", values)
    with pytest.raises(InvalidConfigError) as raised:
        load_config([path])
    expected = {(str(path), e.path, e.reason) for e in raised.value.errors}
    assert {e[1][-1] for e in expected} >= {"url", "schemaRegistry", "pathPrefix", "cacheMaxAge"}
    findings = {(f.source, f.path, f.message) for f in validate([path])}
    assert findings - expected == {(
        str(path), ("config", "influxdbDatabases", "bad"),
        "database in the base values file: every environment would serve it",
    )}
    assert expected <= findings


def test_database_in_base_values(tmp_path: Path) -> None:
    base = write_values(tmp_path / "values.yaml", STANDARD_VALUES)
    env = write_values(tmp_path / "values-env.yaml", {"config": {"logLevel": "DEBUG"}})
    findings = [f for f in validate([base, env]) if f.key.startswith("config.influxdb")]
    assert [(f.severity, f.key, f.message) for f in findings] == [
        ("error", "config.influxdbDatabases.remote_efd",
         "database in the base values file: every environment would serve it"),
        ("error", "config.influxdbDatabases.test_efd",
         "database in the base values file: every environment would serve it"),
    ]


def _secrets_file(path: Path, content: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(content), encoding="utf-8")
    return path


def test_secret_declarations_are_parsed_as_phalanx_does(tmp_path: Path) -> None:
    real = load_secret_declarations([PHALANX / "secrets.yaml"])
    assert real.errors == []
    tap = real.declarations["tap-database-password"]
    assert tap.condition == "config.tap.servers.tap.enabled"
    assert tap.copy == CopyRule("tap", "tap-schema-password")
    assert real.declarations["sentry-dsn"].copy is None
    bad = _secrets_file(tmp_path / "secrets.yaml", {
        "no-description": {"generate": {"type": "password"}},
        "typo": {"description": "x", "generat": {"type": "password"}},
        "bad-type": {"description": "x", "generate": {"type": "uuid"}},
        "hash": {"description": "x", "generate": {"type": "bcrypt-password-hash"}},
        "hash-ok": {"description": "x",
                    "generate": {"type": "bcrypt-password-hash", "source": "p", "if": "a.b"}},
        "copy-partial": {"description": "x", "copy": {"application": "tap"}},
        "both": {"description": "x", "copy": {"application": "a", "key": "k"},
                 "generate": {"type": "password"}},
        "fixed": {"description": "x", "value": "s3cret", "onepassword": {"encoded": True},
                  "copy": {"application": "a", "key": "k"}},
        "encoded": {"description": "x", "onepassword": {"encoded": "yes"}},
    })
    parsed = load_secret_declarations([bad])
    assert parsed.declarations["hash-ok"].generate == GenerateRule(
        "bcrypt-password-hash", "p", "a.b")
    assert parsed.declarations["fixed"].has_value
    assert "s3cret" not in repr(parsed)
    assert sorted((e.path, e.reason) for e in parsed.errors) == [
        (("bad-type", "generate", "type"), "must be one of password, gafaelfawr-token,"
         " fernet-key, rsa-private-key, bcrypt-password-hash, mtime, got 'uuid'"),
        (("both",), "both copy and generate may not be set unconditionally"),
        (("copy-partial", "copy", "key"), "is required"),
        (("encoded", "onepassword", "encoded"), "must be true or false, got string 'yes'"),
        (("fixed", "value"), "may not be set if copy or generate is set"),
        (("hash", "generate", "source"), "is required for type bcrypt-password-hash"),
        (("no-description", "description"), "is required"),
        (("typo", "generat"), "unknown key (Phalanx accepts description, if, copy, generate,"
         " onepassword, value)"),
    ]


def test_secret_findings(tmp_path: Path) -> None:
    base = write_values(tmp_path / "values.yaml", {"config": {"influxdbDatabases": {}}})
    values = write_values(tmp_path / "values-env.yaml", STANDARD_VALUES)
    secrets = _secrets_file(tmp_path / "secrets.yaml", {
        "test_efd-password": {"description": "reader"},
        "remote_efd-password": {"description": "remote", "if": "config.remoteEnabled"},
        "old_efd-password": {"description": "left over"},
    })
    secret_dir = KubernetesSecretDir(tmp_path / "dir", {"test_efd-password": "\n"})
    findings = validate([base, values], (), [secrets], secret_dir.path)
    assert [(f.severity, f.key, f.message) for f in findings] == [
        ("error", "config.influxdbDatabases.remote_efd.passwordKey",
         f"'remote_efd-password' is declared in {secrets} only if config.remoteEnabled,"
         " which is not true here"),
        ("error", "config.influxdbDatabases.remote_efd.passwordKey",
         f"secret file {secret_dir.path}/remote_efd-password: file not found"),
        ("error", "config.influxdbDatabases.test_efd.passwordKey",
         f"secret file {secret_dir.path}/test_efd-password: file is empty"),
        ("warning", "old_efd-password", "declared password secret that no database uses"),
    ]


@pytest.mark.parametrize(("content", "message"), [
    (None, "file not found"),
    ("config: [unclosed", "expected ',' or ']', but got '<stream end>'"),
    ("- a list", "expected a mapping at the top of the file, got list"),
])
def test_unusable_values_exit_2(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "values.yaml"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    result = run_cli(["validate", "--values", str(path)])
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stdout == ""
