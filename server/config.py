"""Turn merged Helm values into a validated, typed configuration.

The reader collects every problem it finds instead of stopping at the first,
so that start-up and the offline ``validate`` command report the same
messages, all at once, each naming the file and the key path.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from server.exceptions import ConfigError
from server.rules import (
    Catalog,
    DatasetConfig,
    HipsConfig,
    ServiceRule,
    parse_datasets,
    parse_hips,
    parse_rules,
    parse_url_map,
    render_catalog,
)
from server.urls import is_plain_name, normalize_http_url
from server.values import KeyPath, MergedValues, load_values

__all__ = [
    "DEFAULT_CREDENTIALS_SCOPE",
    "SERVED_KEYS",
    "UNSERVED_UPSTREAM_KEYS",
    "ConfigReader",
    "InfluxDatabaseConfig",
    "InvalidConfigError",
    "IpNetwork",
    "RepertoireConfig",
    "load_config",
    "parse_config",
]

_LOGGER = logging.getLogger("repertoire.config")

DEFAULT_CREDENTIALS_SCOPE = "read:sasquatch"

SERVED_KEYS = frozenset(
    {
        "applications",
        "availableDatasets",
        "baseHostname",
        "butlerConfigs",
        "cacheMaxAge",
        "credentialsScope",
        "datasets",
        "environmentName",
        "hips",
        "influxdbDatabases",
        "logLevel",
        "logProfile",
        "pathPrefix",
        "rules",
        "subdomainRules",
        "trustedProxies",
        "useSubdomains",
    }
)
"""Keys under ``config:`` that this service reads."""

UNSERVED_UPSTREAM_KEYS = frozenset(
    {
        "environment",
        "ivoaRegistry",
        "metrics",
        "obscoreConfigs",
        "sentry",
        "slackAlerts",
        "tap",
    }
)
"""Keys upstream Repertoire knows that this service accepts but does not serve."""

_INFLUX_KEYS = frozenset(
    {"url", "database", "username", "passwordKey", "schemaRegistry", "local", "description"}
)
_LOG_LEVELS = frozenset({"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"})
_LOG_PROFILES = frozenset({"production", "development"})

_already_reported_unserved: set[str] = set()

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class InvalidConfigError(Exception):
    """One or more configuration problems; each names file, key and fault."""

    def __init__(self, errors: Sequence[ConfigError]) -> None:
        self.errors = list(errors)
        super().__init__("\n".join(str(error) for error in self.errors))


@dataclass(frozen=True, slots=True)
class InfluxDatabaseConfig:
    """One ``config.influxdbDatabases`` stanza."""

    label: str
    url: str
    database: str
    username: str
    password_key: str
    schema_registry: str
    local: bool = False
    description: str | None = None


@dataclass(frozen=True, slots=True)
class RepertoireConfig:
    """Everything the service needs from the values files."""

    path_prefix: str = "/repertoire"
    applications: tuple[str, ...] = ()
    environment_name: str | None = None
    base_hostname: str | None = None
    influxdb_databases: Mapping[str, InfluxDatabaseConfig] = field(default_factory=dict)
    trusted_proxies: tuple[IpNetwork, ...] = ()
    credentials_scope: str = DEFAULT_CREDENTIALS_SCOPE
    cache_max_age: int = 300
    log_level: str = "INFO"
    log_profile: str = "production"
    unserved_keys: tuple[str, ...] = ()
    rules: Mapping[str, tuple[ServiceRule, ...]] = field(default_factory=dict)
    subdomain_rules: Mapping[str, tuple[ServiceRule, ...]] = field(default_factory=dict)
    use_subdomains: frozenset[str] = frozenset()
    available_datasets: frozenset[str] = frozenset()
    datasets: Mapping[str, DatasetConfig] = field(default_factory=dict)
    butler_configs: Mapping[str, str] = field(default_factory=dict)
    hips: HipsConfig | None = None
    catalog: Catalog = field(default_factory=Catalog)
    """What the rules render to for the enabled applications (see `server.rules`)."""


class ConfigReader:
    """Typed accessors over the merged tree that record problems, not raise."""

    def __init__(self, merged: MergedValues) -> None:
        self.merged = merged
        self.errors: list[ConfigError] = []

    def fail(self, path: KeyPath, message: str) -> None:
        """Record one problem at ``path``, attributed to the file that set it."""
        self.errors.append(ConfigError(message, source=self.merged.source_of(path), path=path))

    def mapping(self, value: Any, path: KeyPath) -> Mapping[str, Any]:
        """A mapping, or an empty one (after recording why) when it is not."""
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.fail(path, f"must be a mapping, got {_kind(value)}")
            return {}
        return value

    def string(self, value: Any, path: KeyPath, *, required: bool = True) -> str | None:
        """A non-empty string, or None when absent and not required."""
        if value is None:
            if required:
                self.fail(path, "is required")
            return None
        if not isinstance(value, str) or not value:
            self.fail(path, f"must be a non-empty string, got {_kind(value)}")
            return None
        return value

    def url(self, value: Any, path: KeyPath, *, required: bool = True) -> str | None:
        """An absolute http(s) URL, normalised as upstream serialises it."""
        text = self.string(value, path, required=required)
        if text is None:
            return None
        try:
            return normalize_http_url(text)
        except ValueError as exc:
            self.fail(path, f"{exc}, got {text!r}")
            return None

    def url_path(self, value: object, path: KeyPath, *, required: bool = True) -> str | None:
        """An absolute URL path such as ``/repertoire``, without a trailing slash."""
        text = self.string(value, path, required=required)
        if text is None:
            return None
        if not text.startswith("/") or "//" in text or any(c in text for c in "?#% "):
            self.fail(path, f"must be an absolute URL path like /prefix, got {text!r}")
            return None
        return text.rstrip("/")

    def boolean(self, value: Any, path: KeyPath, *, default: bool) -> bool:
        """A YAML boolean."""
        if value is None:
            return default
        if not isinstance(value, bool):
            self.fail(path, f"must be true or false, got {_kind(value)}")
            return default
        return value

    def sequence(self, value: object, path: KeyPath) -> list[Any]:
        """A list, or an empty one (after recording why) when it is not."""
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(path, f"must be a list, got {_kind(value)}")
            return []
        return value

    def string_list(self, value: Any, path: KeyPath) -> tuple[str, ...]:
        """A list of non-empty strings."""
        items: list[str] = []
        for index, item in enumerate(self.sequence(value, path)):
            if (text := self.string(item, (*path, index))) is not None:
                items.append(text)
        return tuple(items)

    def plain_name(self, value: str, path: KeyPath, what: str) -> bool:
        """Whether ``value`` is a single safe path component; records if not."""
        if is_plain_name(value):
            return True
        self.fail(
            path,
            f"{what} {value!r} must be a plain name (letters, digits, '.', '_', '-';"
            " no '/', not starting with '.')",
        )
        return False


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {value}"
    if isinstance(value, str):
        return f"string {value!r}" if value else "an empty string"
    if isinstance(value, int | float):
        return f"number {value}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "a mapping"
    return type(value).__name__


def _parse_influxdb(
    reader: ConfigReader, node: Any, path: KeyPath
) -> dict[str, InfluxDatabaseConfig]:
    databases: dict[str, InfluxDatabaseConfig] = {}
    for label, stanza_value in sorted(reader.mapping(node, path).items()):
        stanza_path = (*path, str(label))
        if not reader.plain_name(str(label), stanza_path, "database label"):
            continue
        stanza = reader.mapping(stanza_value, stanza_path)
        if not stanza and stanza_value is None:
            reader.fail(
                stanza_path,
                "must be a mapping with url, database, username, passwordKey and schemaRegistry",
            )
            continue
        for key in sorted(set(stanza) - _INFLUX_KEYS):
            reader.fail(
                (*stanza_path, str(key)),
                "unknown key (expected one of " + ", ".join(sorted(_INFLUX_KEYS)) + ")",
            )
        errors_before = len(reader.errors)
        url = reader.url(stanza.get("url"), (*stanza_path, "url"))
        database = reader.string(stanza.get("database"), (*stanza_path, "database"))
        username = reader.string(stanza.get("username"), (*stanza_path, "username"))
        key_path = (*stanza_path, "passwordKey")
        password_key = reader.string(stanza.get("passwordKey"), key_path)
        if password_key is not None:
            reader.plain_name(password_key, key_path, "passwordKey")
        registry = reader.url(stanza.get("schemaRegistry"), (*stanza_path, "schemaRegistry"))
        local = reader.boolean(stanza.get("local"), (*stanza_path, "local"), default=False)
        description = reader.string(
            stanza.get("description"), (*stanza_path, "description"), required=False
        )
        if len(reader.errors) > errors_before:
            continue
        assert url and database and username and password_key and registry
        databases[str(label)] = InfluxDatabaseConfig(
            label=str(label),
            url=url,
            database=database,
            username=username,
            password_key=password_key,
            schema_registry=registry,
            local=local,
            description=description,
        )
    return databases


def _parse_proxies(reader: ConfigReader, node: Any, path: KeyPath) -> tuple[IpNetwork, ...]:
    networks: list[IpNetwork] = []
    for index, text in enumerate(reader.string_list(node, path)):
        try:
            networks.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            reader.fail((*path, index), f"must be an IP address or CIDR network, got {text!r}")
    return tuple(networks)


def _parse_choice(
    reader: ConfigReader, node: Any, path: KeyPath, choices: frozenset[str], default: str
) -> str:
    value = reader.string(node, path, required=False)
    if value is None:
        return default
    if value not in choices:
        reader.fail(path, f"must be one of {', '.join(sorted(choices))}, got {value!r}")
        return default
    return value


def _parse_max_age(reader: ConfigReader, node: Any, path: KeyPath) -> int:
    if node is None:
        return 300
    if isinstance(node, bool) or not isinstance(node, int) or node < 0:
        reader.fail(path, f"must be a whole number of seconds >= 0, got {_kind(node)}")
        return 300
    return node


def parse_config(merged: MergedValues) -> RepertoireConfig:
    """Validate the merged tree; raise `InvalidConfigError` listing every problem."""
    reader = ConfigReader(merged)
    root: KeyPath = ("config",)
    settings = reader.mapping(merged.tree.get("config"), root)
    unknown = sorted(key for key in settings if key not in SERVED_KEYS | UNSERVED_UPSTREAM_KEYS)
    for key in unknown:
        reader.fail(
            (*root, key),
            "unknown key: neither this service nor upstream"
            " Repertoire knows it (check its spelling)",
        )

    def at(key: str) -> tuple[Any, KeyPath]:
        return settings.get(key), (*root, key)

    path_prefix = reader.url_path(*at("pathPrefix"), required=False)
    config = RepertoireConfig(
        path_prefix="/repertoire" if path_prefix is None else path_prefix,
        applications=tuple(sorted(reader.string_list(*at("applications")))),
        environment_name=reader.string(*at("environmentName"), required=False),
        base_hostname=reader.string(*at("baseHostname"), required=False),
        influxdb_databases=_parse_influxdb(reader, *at("influxdbDatabases")),
        trusted_proxies=_parse_proxies(reader, *at("trustedProxies")),
        credentials_scope=reader.string(*at("credentialsScope"), required=False)
        or DEFAULT_CREDENTIALS_SCOPE,
        cache_max_age=_parse_max_age(reader, *at("cacheMaxAge")),
        log_level=_parse_choice(reader, *at("logLevel"), _LOG_LEVELS, "INFO"),
        log_profile=_parse_choice(reader, *at("logProfile"), _LOG_PROFILES, "production"),
        unserved_keys=tuple(sorted(k for k in settings if k in UNSERVED_UPSTREAM_KEYS)),
        rules=parse_rules(reader, *at("rules")),
        subdomain_rules=parse_rules(reader, *at("subdomainRules")),
        use_subdomains=frozenset(reader.string_list(*at("useSubdomains"))),
        available_datasets=frozenset(reader.string_list(*at("availableDatasets"))),
        datasets=parse_datasets(reader, *at("datasets")),
        butler_configs=parse_url_map(reader, *at("butlerConfigs")),
        hips=parse_hips(reader, *at("hips")),
    )
    if not reader.errors:
        config = replace(config, catalog=render_catalog(reader, config))
    if reader.errors:
        raise InvalidConfigError(reader.errors)
    return config


def report_unserved_keys(config: RepertoireConfig) -> None:
    """Log, once per process and key, the upstream keys this service ignores."""
    fresh = [key for key in config.unserved_keys if key not in _already_reported_unserved]
    if fresh:
        _already_reported_unserved.update(fresh)
        _LOGGER.info(
            "Configuration keys accepted but not served by this service: %s",
            ", ".join(fresh),
        )


def load_config(files: Sequence[Path], sets: Sequence[str] = ()) -> RepertoireConfig:
    """Read, merge and validate values files; every failure is `InvalidConfigError`."""
    try:
        merged = load_values(files, sets)
    except ConfigError as exc:
        raise InvalidConfigError([exc]) from None
    return parse_config(merged)
