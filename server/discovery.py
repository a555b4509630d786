"""Build the public discovery document once per configuration load.

The document only varies with the external scheme and host of the request
(``credentials_url`` and the HiPS list URLs are absolute), so it is serialised
once with a marker in place of ``scheme://host`` and each distinct host gets
its bytes and ETag by one substitution, cached.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from contracts import DiscoverySchema
from server.config import RepertoireConfig
from server.exceptions import InvalidHostError
from server.rules import RenderedService
from server.urls import HOST_PATTERN, normalize_http_url

__all__ = ["DiscoveryService", "RenderedDocument", "serialize"]

_BASE_MARKER = "http://repertoire-external-base.invalid"
_MAX_CACHED_HOSTS = 64
_HIPS_LIST_VERSION = "hips-list-1.0"
_EXTERNAL_BASE = re.compile("^https?://" + HOST_PATTERN.pattern.removeprefix("^"))


def serialize(body: Any) -> bytes:
    """Compact UTF-8 JSON, the form of every response body."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


@dataclass(frozen=True, slots=True)
class RenderedDocument:
    """The discovery document for one external base URL, ready to send.

    ``headers`` (ETag, caching, CORS) are built here once per document rather
    than once per request.
    """

    body: bytes
    etag: str
    headers: Mapping[str, str]
    body_headers: Mapping[str, str]
    """``headers`` plus the content type: a 304 has no body and no content type."""


class DiscoveryService:
    """Serves the discovery document for a configuration."""

    def __init__(self, config: RepertoireConfig) -> None:
        self._config = config
        document = DiscoverySchema().dump(build_document(config, _BASE_MARKER))
        self._template = serialize(document)
        self._marker = _BASE_MARKER.encode("ascii")
        self._rendered: dict[str, RenderedDocument] = {}

    def render(self, external_base: str) -> RenderedDocument:
        """The document as seen from ``external_base`` (``scheme://host``).

        A base is checked (its host must go into a URL and into JSON as it is)
        only the first time: cached bases are known good.
        """
        rendered = self._rendered.get(external_base)
        if rendered is None:
            if len(self._rendered) >= _MAX_CACHED_HOSTS:
                self._rendered.clear()
            if not _EXTERNAL_BASE.match(external_base):
                raise InvalidHostError(
                    "The Host header must be a host name or address with an optional port",
                    loc=("header", "Host"),
                )
            body = self._template.replace(self._marker, external_base.encode("ascii"))
            etag = '"' + hashlib.sha256(body).hexdigest()[:40] + '"'
            headers = {
                "ETag": etag,
                "Cache-Control": f"public, max-age={self._config.cache_max_age}",
                "Access-Control-Allow-Origin": "*",
                "Vary": "Host, X-Forwarded-Host, X-Forwarded-Proto",
            }
            body_headers = {**headers, "Content-Type": "application/json"}
            rendered = RenderedDocument(body, etag, headers, body_headers)
            self._rendered[external_base] = rendered
        return rendered


def _service(service: RenderedService) -> dict[str, Any]:
    return {
        "url": service.url,
        "openapi": service.openapi,
        "versions": {name: {"url": url} for name, url in service.versions.items()},
    }


def _datasets(config: RepertoireConfig, external_base: str) -> dict[str, Any]:
    """Datasets with their rendered services, plus the per-host HiPS list."""
    hips = config.hips
    datasets: dict[str, Any] = {}
    for name, dataset in config.catalog.datasets.items():
        services = {label: _service(s) for label, s in dataset.services.items()}
        if hips is not None and name in hips.datasets:
            url = normalize_http_url(f"{external_base}{hips.path_prefix}/{name}/list")
            services["hips"] = {"url": url, "versions": {_HIPS_LIST_VERSION: {"url": url}}}
        datasets[name] = {
            "butler_config": dataset.butler_config,
            "description": dataset.description,
            "docs_url": dataset.docs_url,
            "services": services,
        }
    return datasets


def build_document(config: RepertoireConfig, external_base: str) -> dict[str, Any]:
    """The discovery document as plain data, before the schema serialises it."""
    credentials_base = f"{external_base}{config.path_prefix}/discovery/influxdb/"
    catalog = config.catalog
    return {
        "applications": list(config.applications),
        "datasets": _datasets(config, external_base),
        "environment_name": config.environment_name,
        "influxdb_databases": {
            label: {
                "url": database.url,
                "database": database.database,
                "description": database.description,
                "schema_registry": database.schema_registry,
                "credentials_url": credentials_base + label,
                "local": database.local,
            }
            for label, database in config.influxdb_databases.items()
        },
        "services": {
            "internal": {name: _service(s) for name, s in catalog.internal.items()},
            "ui": {name: {"url": s.url} for name, s in catalog.ui.items()},
        },
    }
