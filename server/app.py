"""The application factory."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from typing import TextIO

from aiohttp import web

from server.audit import AuditLog
from server.config import report_unserved_keys
from server.handlers import prefixed_routes, root_routes
from server.keys import AUDIT_KEY, OPENAPI_KEY, STATE_KEY
from server.middleware import auth_middleware, error_middleware
from server.openapi import load_openapi
from server.reload import live_reload
from server.state import ServiceSettings, ServiceState, load_snapshot

__all__ = ["create_app"]


def create_app(settings: ServiceSettings, *, audit_stream: TextIO = sys.stderr) -> web.Application:
    """Load the configuration and build the application serving it.

    Raises `server.config.InvalidConfigError` when the configuration is bad,
    before anything listens. Audit lines go to ``audit_stream``.
    """
    snapshot = load_snapshot(settings, generation=1)

    app = web.Application(middlewares=[error_middleware, auth_middleware])
    app[STATE_KEY] = ServiceState(settings, snapshot)
    app[OPENAPI_KEY] = load_openapi(snapshot.config.path_prefix)
    app[AUDIT_KEY] = AuditLog(audit_stream)
    app.cleanup_ctx.append(app[AUDIT_KEY].lifespan)
    app.cleanup_ctx.append(_report_startup_problems)
    app.cleanup_ctx.append(live_reload)
    app.router.add_routes(root_routes)
    prefix = snapshot.config.path_prefix
    for route in prefixed_routes:
        assert isinstance(route, web.RouteDef)
        app.router.add_route(route.method, prefix + route.path, route.handler, **route.kwargs)
    return app


async def _report_startup_problems(app: web.Application) -> AsyncIterator[None]:
    """Log, once logging is set up, what the operator should know at start."""
    snapshot = app[STATE_KEY].current
    report_unserved_keys(snapshot.config)
    snapshot.credentials.warn_unavailable_secrets()
    yield
