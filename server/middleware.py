"""Middlewares: JSON errors for every failure, and auth for protected routes."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from http import HTTPStatus

from aiohttp import web

from contracts import ErrorResponseSchema
from server.discovery import serialize
from server.exceptions import ClientRequestError
from server.keys import IDENTITY_KEY, STATE_KEY

__all__ = ["auth_middleware", "error_middleware", "error_response", "requires_scope"]

_LOGGER = logging.getLogger("repertoire.errors")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_PROTECTED: set[Handler] = set()
_ERROR_SCHEMA = ErrorResponseSchema()
_HTTP_ERROR_TYPES = {
    404: "not_found",
    405: "method_not_allowed",
    413: "request_too_large",
}


def requires_scope(handler: Handler) -> Handler:
    """Mark a route handler as needing the configured credentials scope."""
    _PROTECTED.add(handler)
    return handler


def error_response(
    status: int,
    message: str,
    error_type: str,
    loc: tuple[str, ...] = (),
    headers: dict[str, str] | None = None,
) -> web.Response:
    """A JSON error in the ``{"detail": [{loc, msg, type}]}`` shape."""
    body = _ERROR_SCHEMA.dump({"detail": [{"loc": list(loc), "msg": message, "type": error_type}]})
    return web.Response(
        status=status,
        body=serialize(body),
        content_type="application/json",
        headers=headers,
    )


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer every error as JSON; never let a stack trace reach the client."""
    try:
        return await handler(request)
    except ClientRequestError as exc:
        return error_response(exc.status, exc.message, exc.error_type, exc.loc, exc.headers)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        phrase = HTTPStatus(exc.status).phrase
        error_type = _HTTP_ERROR_TYPES.get(exc.status, "http_error")
        return error_response(exc.status, phrase, error_type, ("path",), headers)
    except Exception:
        _LOGGER.exception("Unexpected error handling %s %s", request.method, request.path)
        return error_response(500, "Internal server error", "internal_error")


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Authenticate callers of protected routes before their handler runs."""
    if request.match_info.handler in _PROTECTED:
        snapshot = request.app[STATE_KEY].current
        request[IDENTITY_KEY] = snapshot.authenticator.authenticate(
            request, snapshot.config.credentials_scope
        )
    return await handler(request)
