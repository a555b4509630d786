"""HTTP handlers: translate requests into service calls and bodies into responses.

``prefixed_routes`` are mounted under ``config.pathPrefix``; ``root_routes``
at the root of the server.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, metadata

from aiohttp import web

from contracts import HealthSchema, IndexSchema, ReadinessSchema
from server import __version__
from server.discovery import serialize
from server.forwarding import external_base_url
from server.keys import AUDIT_KEY, IDENTITY_KEY, OPENAPI_KEY, STATE_KEY
from server.middleware import requires_scope
from server.readiness import readiness

__all__ = ["prefixed_routes", "root_routes"]

prefixed_routes = web.RouteTableDef()
root_routes = web.RouteTableDef()

_JSON = "application/json"
_CREDENTIALS_HEADERS = {"Content-Type": _JSON, "Cache-Control": "no-store"}
"""Headers of every credentials response (passing the content type on its own
costs a parse per response)."""
_HEALTH_BODY = serialize(HealthSchema().dump({"status": "ok"}))


def _index_body() -> bytes:
    try:
        meta = metadata("repertoire-influx")
        description = meta["Summary"]
        urls = dict(entry.split(", ", 1) for entry in meta.get_all("Project-URL") or [])
        repository_url = meta["Home-page"] or "https://github.com/lsst-sqre/repertoire"
        documentation_url = urls.get("Documentation", repository_url)
    except PackageNotFoundError:
        description = "Service discovery for a Phalanx science platform"
        repository_url = documentation_url = "https://github.com/lsst-sqre/repertoire"
    return serialize(
        IndexSchema().dump(
            {
                "metadata": {
                    "name": "repertoire",
                    "version": __version__,
                    "description": description,
                    "repository_url": repository_url,
                    "documentation_url": documentation_url,
                }
            }
        )
    )


_INDEX_BODY = _index_body()


@root_routes.get("/health")
async def get_health(_: web.Request) -> web.Response:
    """Liveness: answered while the process serves."""
    return web.Response(body=_HEALTH_BODY, content_type=_JSON)


@prefixed_routes.get("/")
async def get_index(_: web.Request) -> web.Response:
    """Name and version of the service."""
    return web.Response(body=_INDEX_BODY, content_type=_JSON)


@prefixed_routes.get("/health/ready")
async def get_readiness(request: web.Request) -> web.Response:
    """Readiness: the configuration generation served and whether each secret reads."""
    body = serialize(ReadinessSchema().dump(readiness(request.app.get(STATE_KEY))))
    return web.Response(body=body, headers=_CREDENTIALS_HEADERS)


@prefixed_routes.get("/discovery")
async def get_discovery(request: web.Request) -> web.Response:
    """The public discovery document, with HTTP caching and open CORS."""
    snapshot = request.app[STATE_KEY].current
    external = external_base_url(request, snapshot.config.trusted_proxies)
    rendered = snapshot.discovery.render(external)
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None and _etag_matches(if_none_match, rendered.etag):
        return web.Response(status=304, headers=rendered.headers)
    return web.Response(body=rendered.body, headers=rendered.body_headers)


def _etag_matches(header: str, etag: str) -> bool:
    if header == etag:  # what a client sends back, the common case
        return True
    candidates = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return etag in candidates or "*" in candidates


@prefixed_routes.get("/discovery/influxdb")
@requires_scope
async def list_credentials(request: web.Request) -> web.Response:
    """Credentials of every database, for authorised callers."""
    credentials = request.app[STATE_KEY].current.credentials
    body = credentials.all()
    request.app[AUDIT_KEY].credentials_retrieved(request[IDENTITY_KEY].username, credentials.labels)
    return web.Response(body=body, headers=_CREDENTIALS_HEADERS)


@prefixed_routes.get("/discovery/influxdb/{database}")
@requires_scope
async def get_credentials(request: web.Request) -> web.Response:
    """Credentials of one database, for authorised callers."""
    label = request.match_info["database"]
    body = request.app[STATE_KEY].current.credentials.one(label)
    request.app[AUDIT_KEY].credentials_retrieved(request[IDENTITY_KEY].username, label)
    return web.Response(body=body, headers=_CREDENTIALS_HEADERS)


@prefixed_routes.get("/openapi.yaml")
async def get_openapi_yaml(request: web.Request) -> web.Response:
    """The OpenAPI contract as YAML."""
    return web.Response(body=request.app[OPENAPI_KEY].yaml_body, content_type="application/yaml")


@prefixed_routes.get("/openapi.json")
async def get_openapi_json(request: web.Request) -> web.Response:
    """The OpenAPI contract as JSON."""
    return web.Response(body=request.app[OPENAPI_KEY].json_body, content_type=_JSON)
