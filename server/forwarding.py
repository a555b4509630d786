"""The external ``scheme://host`` of a request, as the client addressed us.

``X-Forwarded-Proto`` and ``X-Forwarded-Host`` are believed only when the
peer is a configured trusted proxy; anyone else could forge them.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from aiohttp import web

from server.config import IpNetwork

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
    """``scheme://host[:port]`` under which the client reached this service.

    Not validated here: the discovery service checks a base the first time
    it sees it.
    """
    headers = request.headers
    scheme = request.scheme
    host = headers.get("Host", "")
    forwarded_proto = headers.get("X-Forwarded-Proto")
    forwarded_host = headers.get("X-Forwarded-Host")
    if (forwarded_proto or forwarded_host) and _from_trusted_proxy(request, proxies):
        if forwarded_proto and (proto := _first(forwarded_proto)) in ("http", "https"):
            scheme = proto
        if forwarded_host and (first_host := _first(forwarded_host)):
            host = first_host
    return f"{scheme}://{host.lower()}"
