"""URL checks and the WHATWG-style normalisation upstream clients expect."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

__all__ = ["HOST_PATTERN", "is_plain_name", "normalize_http_url"]

_DEFAULT_PORTS = {"http": 80, "https": 443}

HOST_PATTERN = re.compile(
    r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9-]{1,63})*\.?"
    r"|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$"
)
"""A Host header that can go into a URL (and into JSON) without escaping."""

_PLAIN_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]*$")


def is_plain_name(name: str) -> bool:
    """Whether a label or secret key is a single safe path component.

    Such a name has no ``/``, is not ``.`` or ``..`` and does not start with a
    dot, so that joining it to the secrets directory can never leave it (nor
    reach Kubernetes' own ``..data`` entries).
    """
    return bool(_PLAIN_NAME.match(name)) and len(name) <= 253


def normalize_http_url(value: str) -> str:
    """Return ``value`` in the form the WHATWG URL standard serialises it.

    Raises `ValueError` with a short reason when ``value`` is not an absolute
    http(s) URL. The scheme and host are lower-cased, a default port is
    dropped and an empty path becomes ``/`` (``http://host:8081`` becomes
    ``http://host:8081/``), which is how upstream Repertoire serves URLs.
    """
    if any(ch.isspace() for ch in value) or not value:
        raise ValueError("must be an absolute http(s) URL without spaces")
    parts = urlsplit(value)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise ValueError("must be an absolute http(s) URL")
    if not parts.hostname:
        raise ValueError("must be an absolute http(s) URL with a host")
    try:
        port = parts.port
    except ValueError:
        raise ValueError("has an invalid port") from None
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not carry credentials in the URL")
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, parts.fragment))
