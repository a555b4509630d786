"""Discovery rules, datasets and HiPS: parsing, rendering and clear errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from server.config import InvalidConfigError, RepertoireConfig, load_config
from server.exceptions import ConfigError
from server.values import load_values
from tests.conftest import PHALANX, write_values

BASE: dict[str, Any] = {
    "config": {
        "baseHostname": "rsp.example.org",
        "applications": ["portal", "tap", "nublado"],
        "availableDatasets": ["dp1", "dp2"],
        "datasets": {
            "dp1": {"description": "Data Preview 1", "docsUrl": "https://dp1.example.org"},
            "dp2": {"description": "Data Preview 2"},
            "dp3": {"description": "Not available here"},
        },
        "butlerConfigs": {"dp1": "https://rsp.example.org/butler/dp1.yaml"},
    }
}


def rules_file(tmp_path: Path, rules: dict[str, Any], **config: Any) -> Path:
    """A values file with ``rules`` and extra ``config`` keys over `BASE`."""
    values = {"config": {**BASE["config"], "rules": rules, **config}}
    return write_values(tmp_path / "values-rules.yaml", values)


def only_error(path: Path) -> ConfigError:
    """The single configuration error that loading ``path`` reports."""
    with pytest.raises(InvalidConfigError) as caught:
        load_config([path])
    assert len(caught.value.errors) == 1, caught.value.errors
    return caught.value.errors[0]


def load(tmp_path: Path, rules: dict[str, Any], **config: Any) -> RepertoireConfig:
    """Load `BASE` with ``rules``; must succeed."""
    return load_config([rules_file(tmp_path, rules, **config)])


def test_unknown_type_names_file_key_application_and_rule(tmp_path: Path) -> None:
    path = rules_file(
        tmp_path,
        {
            "portal": [
                {"type": "ui", "name": "portal", "template": "https://{{base_hostname}}/portal"},
                {"type": "api", "name": "firefly", "template": "https://{{base_hostname}}/ff"},
            ]
        },
    )
    error = only_error(path)
    assert error.source == str(path)
    assert error.path == ("config", "rules", "portal", 1, "type")
    assert str(error) == (
        f"{path}: config.rules.portal[1].type: must be one of data, internal, ui,"
        " got 'api' (rule 'firefly' of application 'portal')"
    )


def test_missing_template_names_its_place(tmp_path: Path) -> None:
    path = rules_file(tmp_path, {"tap": [{"type": "data", "name": "tap"}]})
    error = only_error(path)
    assert error.source == str(path)
    assert error.path == ("config", "rules", "tap", 0, "template")
    assert "is required (rule 'tap' of application 'tap')" in str(error)


def test_template_rendering_to_a_non_url_is_an_error_at_load(tmp_path: Path) -> None:
    path = rules_file(
        tmp_path,
        {
            "tap": [
                {
                    "type": "data",
                    "name": "tap",
                    "datasets": ["dp2"],
                    "template": "{{base_hostname}}/api/tap",
                },
            ]
        },
    )
    error = only_error(path)
    assert error.source == str(path)
    assert error.path == ("config", "rules", "tap", 0, "template")
    assert str(error) == (
        f"{path}: config.rules.tap[0].template: renders to 'rsp.example.org/api/tap', which"
        " must be an absolute http(s) URL (data rule 'tap' of application 'tap'"
        " for dataset 'dp2')"
    )


def test_bad_version_and_openapi_templates_name_their_keys(tmp_path: Path) -> None:
    path = rules_file(
        tmp_path,
        {
            "tap": [
                {
                    "type": "internal",
                    "name": "tap",
                    "template": "https://{{base_hostname}}/tap",
                    "openapi": "https://{{base_hostname}}/{{dataset}}/openapi.json",
                    "versions": {"v1": {"template": "/tap/v1"}},
                }
            ]
        },
    )
    with pytest.raises(InvalidConfigError) as caught:
        load_config([path])
    messages = {error.path: str(error) for error in caught.value.errors}
    openapi = ("config", "rules", "tap", 0, "openapi")
    version = ("config", "rules", "tap", 0, "versions", "v1", "template")
    assert set(messages) == {openapi, version}
    rule = "(internal rule 'tap' of application 'tap')"
    assert f"'dataset' is undefined) {rule}" in messages[openapi]
    assert (
        f"renders to '/tap/v1', which must be an absolute http(s) URL {rule}" in (messages[version])
    )


STRUCTURE_ERRORS = [
    (
        {"type": "ui", "name": "x", "template": "https://h/{{ oops"},
        ("template",),
        "is not a valid Jinja template",
    ),
    (
        {"type": "ui", "name": "x", "template": "https://h/", "openapi": "https://h/o"},
        ("openapi",),
        "unknown key",
    ),
    ({"type": "internal", "template": "https://h/"}, ("name",), "is required"),
    (
        {"type": "data", "name": "x", "template": "https://h/", "datasets": "dp1"},
        ("datasets",),
        "must be a list",
    ),
    (
        {
            "type": "internal",
            "name": "x",
            "template": "https://h/",
            "versions": {"v1": {"url": "https://h/v1", "template": "https://h/v1"}},
        },
        ("versions", "v1", "url"),
        "unknown key",
    ),
    (
        {"type": "ui", "name": "x", "template": "https://{{ ''.__class__ }}/"},
        ("template",),
        "cannot be rendered (SecurityError",
    ),
]


@pytest.mark.parametrize(("rule", "key", "message"), STRUCTURE_ERRORS)
def test_malformed_rule(
    tmp_path: Path, rule: dict[str, Any], key: tuple[str, ...], message: str
) -> None:
    error = only_error(rules_file(tmp_path, {"portal": [rule]}))
    assert error.path == ("config", "rules", "portal", 0, *key)
    assert message in error.reason


def test_duplicate_rule_in_one_application(tmp_path: Path) -> None:
    rule = {"type": "ui", "name": "portal", "template": "https://{{base_hostname}}/"}
    error = only_error(rules_file(tmp_path, {"portal": [rule, rule]}))
    assert error.path == ("config", "rules", "portal", 1)
    assert "ui rule 'portal' of application 'portal' is already defined at index 0" in (
        error.reason
    )


def test_enabled_rules_need_a_base_hostname(tmp_path: Path) -> None:
    rules = {"portal": [{"type": "ui", "name": "p", "template": "https://{{base_hostname}}/"}]}
    error = only_error(rules_file(tmp_path, rules, baseHostname=None))
    assert error.path == ("config", "baseHostname")


def test_rules_of_disabled_applications_are_not_rendered(tmp_path: Path) -> None:
    config = load(
        tmp_path, {"argocd": [{"type": "ui", "name": "argocd", "template": "{{base_hostname}}"}]}
    )
    assert config.catalog.ui == {}
    assert config.rules["argocd"][0].name == "argocd"


def test_data_rules_and_datasets(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        {
            "tap": [
                {
                    "type": "data",
                    "name": "tap",
                    "datasets": ["dp1"],
                    "template": "https://{{base_hostname}}/api/tap",
                    "versions": {
                        "tables": {
                            "template": "https://{{base_hostname}}/api/tap/tables",
                            "ivoaStandardId": "ivo://ivoa.net/std/VOSI#tables",
                        }
                    },
                    "ivoaRegistry": {"ivoaServiceType": "tap"},
                },
                {
                    "type": "data",
                    "name": "sia",
                    "template": "https://{{base_hostname}}/sia/{{dataset}}",
                },
            ],
        },
    )
    datasets = config.catalog.datasets
    assert list(datasets) == ["dp1", "dp2"]  # dp3 is not available here
    assert datasets["dp1"].butler_config == "https://rsp.example.org/butler/dp1.yaml"
    assert datasets["dp1"].docs_url == "https://dp1.example.org/"
    assert datasets["dp2"].butler_config is None
    assert set(datasets["dp1"].services) == {"tap", "sia"}
    assert datasets["dp1"].services["tap"].versions == {
        "tables": "https://rsp.example.org/api/tap/tables"
    }
    # A data rule that lists no datasets applies to every available one.
    assert list(datasets["dp2"].services) == ["sia"]
    assert datasets["dp2"].services["sia"].url == "https://rsp.example.org/sia/dp2"


def test_subdomain_rules_replace_rules_for_listed_applications(tmp_path: Path) -> None:
    rules = {
        "nublado": [{"type": "ui", "name": "nublado", "template": "https://{{base_hostname}}/nb"}]
    }
    subdomain = {
        "nublado": [
            {"type": "ui", "name": "nublado", "template": "https://nb.{{base_hostname}}/nb"}
        ]
    }
    plain = load(tmp_path, rules, subdomainRules=subdomain)
    moved = load(tmp_path, rules, subdomainRules=subdomain, useSubdomains=["nublado"])
    assert plain.catalog.ui["nublado"].url == "https://rsp.example.org/nb"
    assert moved.catalog.ui["nublado"].url == "https://nb.rsp.example.org/nb"


def test_hips_configuration(tmp_path: Path) -> None:
    hips = {
        "datasets": {"dp1": {"paths": ["color_gri"]}},
        "pathPrefix": "/api/hips/v2/",
        "sourceTemplate": "https://{{base_hostname}}/hips/{{dataset}}",
        "legacy": {"dataset": "dp1", "pathPrefix": "/api/hips"},
    }
    config = load(tmp_path, {}, hips=hips)
    assert config.hips is not None
    assert config.hips.path_prefix == "/api/hips/v2"
    assert config.hips.datasets == {"dp1": ("color_gri",)}
    assert config.hips.legacy_dataset == "dp1"


@pytest.mark.parametrize(
    ("hips", "key", "message"),
    [
        (
            {"datasets": {"../x": {"paths": []}}, "pathPrefix": "/h", "sourceTemplate": "x"},
            ("datasets", "../x"),
            "must be a plain name",
        ),
        (
            {"datasets": {}, "pathPrefix": "api/hips", "sourceTemplate": "x"},
            ("pathPrefix",),
            "must be an absolute URL path",
        ),
        ({"datasets": {}, "pathPrefix": "/h"}, ("sourceTemplate",), "is required"),
        (
            {"datasets": {}, "pathPrefix": "/h", "sourceTemplate": "x", "title": "HiPS"},
            ("title",),
            "unknown key",
        ),
    ],
)
def test_bad_hips(tmp_path: Path, hips: dict[str, Any], key: tuple[str, ...], message: str) -> None:
    error = only_error(rules_file(tmp_path, {}, hips=hips))
    assert error.path == ("config", "hips", *key)
    assert message in error.reason


def test_bad_dataset_and_butler_config(tmp_path: Path) -> None:
    path = rules_file(
        tmp_path,
        {},
        butlerConfigs={"dp1": "s3://bucket/butler.yaml"},
        datasets={"dp1": {"docsUrl": "dp1.lsst.io"}},
    )
    with pytest.raises(InvalidConfigError) as caught:
        load_config([path])
    assert {error.path for error in caught.value.errors} == {
        ("config", "butlerConfigs", "dp1"),
        ("config", "datasets", "dp1", "docsUrl"),
    }


@pytest.mark.parametrize(
    "values_file", sorted(PHALANX.glob("values-*.yaml")), ids=lambda path: path.name
)
def test_every_phalanx_rule_renders(values_file: Path) -> None:
    settings = load_values([PHALANX / "values.yaml", values_file]).tree["config"]
    every_app = sorted({*settings["rules"], *settings["subdomainRules"]})
    config = load_config(
        [PHALANX / "values.yaml", values_file],
        [
            "config.applications={" + ",".join(every_app) + "}",
            "config.baseHostname=rsp.example.org",
        ],
    )
    assert set(config.rules) == set(settings["rules"])
    assert config.catalog.internal["gafaelfawr"].url == "https://rsp.example.org/auth"
    assert set(config.catalog.datasets) == set(settings["availableDatasets"]) & set(
        settings["datasets"]
    )
