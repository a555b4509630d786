"""Phalanx discovery rules: parse them, then render them once per load.

``config.rules`` (and ``config.subdomainRules``) say, per Phalanx
application, which services it provides and how their URLs derive from the
environment's host name. Rendering happens while the configuration is read,
so that a template that yields no URL is a configuration error naming its
file, key, application and rule, and never a failure at request time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, get_args

from jinja2 import StrictUndefined, Template, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment

from server.urls import normalize_http_url
from server.values import KeyPath

if TYPE_CHECKING:
    from server.config import ConfigReader, RepertoireConfig

__all__ = [
    "Catalog",
    "DatasetConfig",
    "HipsConfig",
    "RenderedService",
    "RuleType",
    "ServedDataset",
    "ServiceRule",
    "parse_datasets",
    "parse_hips",
    "parse_rules",
    "parse_url_map",
    "render_catalog",
]

RuleType = Literal["data", "internal", "ui"]

_RULE_TYPES: tuple[RuleType, ...] = get_args(RuleType)
_COMMON_KEYS = frozenset({"type", "name", "template"})
_API_KEYS = _COMMON_KEYS | {"openapi", "versions"}
_ALLOWED_KEYS: dict[RuleType, frozenset[str]] = {
    "ui": _COMMON_KEYS,
    "internal": _API_KEYS,
    # ivoaRegistry feeds upstream's IVOA registry, which this service does not serve.
    "data": _API_KEYS | {"datasets", "ivoaRegistry"},
}
# ivoaStandardId is left out of the document, as upstream does.
_VERSION_KEYS = frozenset({"template", "ivoaStandardId"})
_DATASET_KEYS = frozenset({"description", "docsUrl", "ivoaRegistry"})
_HIPS_KEYS = frozenset({"datasets", "legacy", "pathPrefix", "sourceTemplate"})
_HIPS_LEGACY_KEYS = frozenset({"dataset", "pathPrefix"})

# Sandboxed so a values file cannot reach Python internals; strict so a
# misspelt variable is an error instead of an empty string.
_JINJA = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


@dataclass(frozen=True, slots=True)
class ServiceRule:
    """One entry of ``config.rules.<application>``, with compiled templates."""

    type: RuleType
    name: str
    template: Template
    path: KeyPath
    openapi: Template | None = None
    versions: Mapping[str, Template] = field(default_factory=dict)
    datasets: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DatasetConfig:
    """One entry of ``config.datasets``."""

    description: str | None = None
    docs_url: str | None = None


@dataclass(frozen=True, slots=True)
class HipsConfig:
    """``config.hips``: which datasets have a HiPS list, and where it is served."""

    datasets: Mapping[str, tuple[str, ...]]
    path_prefix: str
    source_template: Template
    legacy_dataset: str | None = None
    legacy_path_prefix: str | None = None


@dataclass(frozen=True, slots=True)
class RenderedService:
    """The URLs of one service, rendered for this environment."""

    url: str
    openapi: str | None = None
    versions: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ServedDataset:
    """A dataset as the discovery document shows it (HiPS aside, which is per host)."""

    description: str | None
    docs_url: str | None
    butler_config: str | None
    services: Mapping[str, RenderedService]


@dataclass(frozen=True, slots=True)
class Catalog:
    """Everything the rules yield for the enabled applications."""

    internal: Mapping[str, RenderedService] = field(default_factory=dict)
    ui: Mapping[str, RenderedService] = field(default_factory=dict)
    datasets: Mapping[str, ServedDataset] = field(default_factory=dict)


def _compile(reader: ConfigReader, value: object, path: KeyPath, context: str) -> Template | None:
    if value is None:
        reader.fail(path, f"is required{context}")
        return None
    text = reader.string(value, path)
    if text is None:
        return None
    try:
        return _JINJA.from_string(text)
    except TemplateSyntaxError as exc:
        reader.fail(path, f"is not a valid Jinja template ({exc.message}){context}")
        return None


def _check_keys(
    reader: ConfigReader,
    node: Mapping[str, Any],
    allowed: frozenset[str],
    path: KeyPath,
    context: str = "",
) -> None:
    for key in sorted(set(node) - allowed, key=str):
        reader.fail(
            (*path, str(key)),
            "unknown key (expected one of " + ", ".join(sorted(allowed)) + f"){context}",
        )


def _parse_versions(
    reader: ConfigReader, node: object, path: KeyPath, context: str
) -> dict[str, Template]:
    versions: dict[str, Template] = {}
    for name, stanza in reader.mapping(node, path).items():
        version_path = (*path, str(name))
        entry = reader.mapping(stanza, version_path)
        _check_keys(reader, entry, _VERSION_KEYS, version_path, context)
        template_path = (*version_path, "template")
        template = _compile(reader, entry.get("template"), template_path, context)
        if template is not None:
            versions[str(name)] = template
    return versions


def _parse_rule(
    reader: ConfigReader, node: object, path: KeyPath, application: str
) -> ServiceRule | None:
    errors_before = len(reader.errors)
    stanza = reader.mapping(node, path)
    name = reader.string(stanza.get("name"), (*path, "name"))
    context = (
        f" (rule {name!r} of application {application!r})"
        if name
        else f" (rule of application {application!r})"
    )
    kind = stanza.get("type")
    if kind not in _RULE_TYPES:
        choices = ", ".join(_RULE_TYPES)
        reader.fail((*path, "type"), f"must be one of {choices}, got {kind!r}{context}")
        return None
    _check_keys(reader, stanza, _ALLOWED_KEYS[kind], path, context)
    template = _compile(reader, stanza.get("template"), (*path, "template"), context)
    openapi = None
    if stanza.get("openapi") is not None:
        openapi = _compile(reader, stanza["openapi"], (*path, "openapi"), context)
    versions_path = (*path, "versions")
    versions = _parse_versions(reader, stanza.get("versions"), versions_path, context)
    datasets = reader.string_list(stanza.get("datasets"), (*path, "datasets"))
    if len(reader.errors) > errors_before or name is None or template is None:
        return None
    return ServiceRule(
        type=kind,
        name=name,
        template=template,
        path=path,
        openapi=openapi,
        versions=versions,
        datasets=datasets,
    )


def parse_rules(
    reader: ConfigReader, node: object, path: KeyPath
) -> dict[str, tuple[ServiceRule, ...]]:
    """``config.rules`` or ``config.subdomainRules``: application to its rules."""
    rules: dict[str, tuple[ServiceRule, ...]] = {}
    for application, entries in reader.mapping(node, path).items():
        app_path = (*path, str(application))
        parsed: list[ServiceRule] = []
        for index, entry in enumerate(reader.sequence(entries, app_path)):
            rule = _parse_rule(reader, entry, (*app_path, index), str(application))
            if rule is None:
                continue
            key = (rule.type, rule.name)
            twin = next((r for r in parsed if (r.type, r.name) == key), None)
            if twin is not None:
                reader.fail(
                    rule.path,
                    f"{rule.type} rule {rule.name!r} of application {application!r}"
                    f" is already defined at index {twin.path[-1]}",
                )
                continue
            parsed.append(rule)
        rules[str(application)] = tuple(parsed)
    return rules


def parse_datasets(reader: ConfigReader, node: object, path: KeyPath) -> dict[str, DatasetConfig]:
    """``config.datasets``: label to description and documentation URL."""
    datasets: dict[str, DatasetConfig] = {}
    for label, value in reader.mapping(node, path).items():
        entry_path = (*path, str(label))
        if not reader.plain_name(str(label), entry_path, "dataset label"):
            continue
        entry = reader.mapping(value, entry_path)
        _check_keys(reader, entry, _DATASET_KEYS, entry_path)
        description_path = (*entry_path, "description")
        docs_path = (*entry_path, "docsUrl")
        datasets[str(label)] = DatasetConfig(
            description=reader.string(entry.get("description"), description_path, required=False),
            docs_url=reader.url(entry.get("docsUrl"), docs_path, required=False),
        )
    return datasets


def parse_url_map(reader: ConfigReader, node: object, path: KeyPath) -> dict[str, str]:
    """A mapping of names to URLs, such as ``config.butlerConfigs``."""
    urls: dict[str, str] = {}
    for name, value in reader.mapping(node, path).items():
        if (url := reader.url(value, (*path, str(name)))) is not None:
            urls[str(name)] = url
    return urls


def parse_hips(reader: ConfigReader, node: object, path: KeyPath) -> HipsConfig | None:
    """``config.hips``, or None when the environment has no HiPS lists."""
    hips = reader.mapping(node, path)
    if not hips:
        return None
    _check_keys(reader, hips, _HIPS_KEYS, path)
    datasets: dict[str, tuple[str, ...]] = {}
    datasets_path = (*path, "datasets")
    for label, value in reader.mapping(hips.get("datasets"), datasets_path).items():
        entry_path = (*datasets_path, str(label))
        if not reader.plain_name(str(label), entry_path, "dataset label"):
            continue
        entry = reader.mapping(value, entry_path)
        _check_keys(reader, entry, frozenset({"paths"}), entry_path)
        paths = reader.string_list(entry.get("paths"), (*entry_path, "paths"))
        datasets[str(label)] = paths
    legacy_path = (*path, "legacy")
    legacy = reader.mapping(hips.get("legacy"), legacy_path)
    _check_keys(reader, legacy, _HIPS_LEGACY_KEYS, legacy_path)
    path_prefix = reader.url_path(hips.get("pathPrefix"), (*path, "pathPrefix"))
    source_path = (*path, "sourceTemplate")
    source = _compile(reader, hips.get("sourceTemplate"), source_path, "")
    legacy_dataset = reader.string(legacy.get("dataset"), (*legacy_path, "dataset"), required=False)
    legacy_prefix = reader.url_path(
        legacy.get("pathPrefix"), (*legacy_path, "pathPrefix"), required=False
    )
    if path_prefix is None or source is None:
        return None
    return HipsConfig(
        datasets=datasets,
        path_prefix=path_prefix,
        source_template=source,
        legacy_dataset=legacy_dataset,
        legacy_path_prefix=legacy_prefix,
    )


def _render_url(
    reader: ConfigReader,
    template: Template,
    path: KeyPath,
    variables: Mapping[str, str],
    context: str,
) -> str | None:
    try:
        text = template.render(variables)
    except Exception as exc:  # template code may raise anything; report it
        reader.fail(path, f"cannot be rendered ({type(exc).__name__}: {exc}){context}")
        return None
    try:
        return normalize_http_url(text)
    except ValueError as exc:
        reader.fail(path, f"renders to {text!r}, which {exc}{context}")
        return None


def _render_service(
    reader: ConfigReader,
    rule: ServiceRule,
    application: str,
    variables: Mapping[str, str],
) -> RenderedService | None:
    dataset = variables.get("dataset")
    context = f" ({rule.type} rule {rule.name!r} of application {application!r}" + (
        f" for dataset {dataset!r})" if dataset else ")"
    )
    errors_before = len(reader.errors)

    def render(template: Template, *key: str | int) -> str | None:
        return _render_url(reader, template, (*rule.path, *key), variables, context)

    url = render(rule.template, "template")
    openapi = None if rule.openapi is None else render(rule.openapi, "openapi")
    versions: dict[str, str] = {}
    for name, template in rule.versions.items():
        if (version_url := render(template, "versions", name, "template")) is not None:
            versions[name] = version_url
    if url is None or len(reader.errors) > errors_before:
        return None
    return RenderedService(url=url, openapi=openapi, versions=versions)


def _rules_of(config: RepertoireConfig, application: str) -> tuple[ServiceRule, ...]:
    if application in config.use_subdomains:
        return config.subdomain_rules.get(application, ())
    return config.rules.get(application, ())


def render_catalog(reader: ConfigReader, config: RepertoireConfig) -> Catalog:
    """Render the rules of the enabled applications; record every bad URL."""
    enabled = [(app, rules) for app in config.applications if (rules := _rules_of(config, app))]
    if enabled and config.base_hostname is None:
        reader.fail(
            ("config", "baseHostname"),
            "is required to render the rules of the enabled applications (Argo CD injects it)",
        )
        return Catalog()
    base = {"base_hostname": config.base_hostname or ""}
    served = [name for name in config.datasets if name in config.available_datasets]
    internal: dict[str, RenderedService] = {}
    ui: dict[str, RenderedService] = {}
    data: dict[str, dict[str, RenderedService]] = {name: {} for name in served}
    for application, rules in enabled:
        for rule in rules:
            if rule.type == "data":
                for dataset in served:
                    if rule.datasets and dataset not in rule.datasets:
                        continue
                    variables = {**base, "dataset": dataset}
                    if service := _render_service(reader, rule, application, variables):
                        data[dataset][rule.name] = service
            elif service := _render_service(reader, rule, application, base):
                (internal if rule.type == "internal" else ui)[rule.name] = service
    datasets = {
        name: ServedDataset(
            description=config.datasets[name].description,
            docs_url=config.datasets[name].docs_url,
            butler_config=config.butler_configs.get(name),
            services=data[name],
        )
        for name in served
    }
    return Catalog(internal=internal, ui=ui, datasets=datasets)
