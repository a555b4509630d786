"""The external ``scheme://host`` of a request, as the client addressed us.

``X-Forwarded-Proto`` and ``X-Forwarded-Host`` are believed only when the
peer is a configured trusted proxy; anyone else could forge them.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from aiohttp import web

from server.config import IpNetwork
from server.exceptions import InvalidHostError
from server.urls import HOST_PATTERN

__all__ = ["external_base_url"]


def _from_trusted_proxy(request: web.Request, proxies: Sequence[IpNetwork]) -> bool:
    if not proxies or request.remote is None:
        return False
    try:
        peer = ipaddress.ip_address(request.remote)
    except ValueError:
        return False
    return any(peer in network for network in proxies)


def _first(value: str) -> str:
    return value.split(",", 1)[0].strip()


def external_base_url(request: web.Request, proxies: Sequence[IpNetwork]) -> str:
    """``scheme://host[:port]`` under which the client reached this service."""
    scheme = request.scheme
    host = request.headers.get("Host", "")
    if _from_trusted_proxy(request, proxies):
        forwarded_proto = _first(request.headers.get("X-Forwarded-Proto", ""))
        forwarded_host = _first(request.headers.get("X-Forwarded-Host", ""))
        if forwarded_proto in ("http", "https"):
            scheme = forwarded_proto
        if forwarded_host:
            host = forwarded_host
    if not HOST_PATTERN.match(host):
        raise InvalidHostError(
            "The Host header must be a host name or address with an optional port",
            loc=("header", "Host"),
        )
    return f"{scheme}://{host.lower()}"
