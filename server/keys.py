"""Typed application and request state keys."""

from aiohttp import web

from server.audit import AuditLog
from server.auth import Identity
from server.openapi import OpenApiDocument
from server.state import ServiceState

__all__ = ["AUDIT_KEY", "IDENTITY_KEY", "OPENAPI_KEY", "STATE_KEY"]

STATE_KEY = web.AppKey("state", ServiceState)
OPENAPI_KEY = web.AppKey("openapi", OpenApiDocument)
AUDIT_KEY = web.AppKey("audit", AuditLog)
IDENTITY_KEY = web.RequestKey("identity", Identity)
