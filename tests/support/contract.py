"""Check every response a test sees against ``openapi.yaml`` itself.

Validation uses openapi-core on the contract file, not ``contracts/``, which
could drift together with the code.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml
from aiohttp import ClientHandlerType, ClientRequest, ClientResponse
from aiohttp.test_utils import TestClient
from multidict import CIMultiDict
from openapi_core import OpenAPI
from openapi_core.templating.paths.exceptions import OperationNotFound, PathNotFound
from openapi_core.testing import MockRequest, MockResponse
from openapi_schema_validator import OAS30Validator

__all__ = ["SPEC", "CheckedResponse", "ContractClient", "check_response"]

SPEC_PATH = Path(__file__).resolve().parents[2] / "openapi.yaml"
SPEC: dict[str, Any] = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
_OPENAPI = OpenAPI.from_dict(SPEC)
_ERROR_VALIDATOR = OAS30Validator(
    {**SPEC["components"]["schemas"]["ErrorResponse"], "components": SPEC["components"]}
)


@dataclass(frozen=True)
class CheckedResponse:
    """A response already validated against the contract."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


def check_response(
    method: str,
    path: str,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    request_headers: Mapping[str, str] | None = None,
    host_url: str = "http://127.0.0.1",
) -> None:
    """Raise if the response does not conform to ``openapi.yaml``.

    Responses to paths or methods the contract does not describe (404, 405)
    must still be JSON errors in the ``detail`` shape.
    """
    content_type = headers.get("Content-Type", "").split(";")[0]
    request = MockRequest(host_url, method.lower(), path, headers=dict(request_headers or {}))
    response = MockResponse(
        body, status_code=status, headers=dict(headers), content_type=content_type
    )
    try:
        _OPENAPI.validate_response(request, response)
    except (PathNotFound, OperationNotFound):
        assert status >= 400, f"{method} {path} answered {status} outside the contract"
        assert content_type == "application/json", content_type
        _ERROR_VALIDATOR.validate(json.loads(body))


class ContractClient:
    """Wraps the pytest-aiohttp client; every response is checked."""

    def __init__(self, client: TestClient[Any, Any]) -> None:
        self.client = client

    async def request(
        self, method: str, path: str, headers: Mapping[str, str] | None = None
    ) -> CheckedResponse:
        """Send one request and validate what comes back."""
        async with self.client.request(method, path, headers=dict(headers or {})) as resp:
            body = await resp.read()
            checked = CheckedResponse(resp.status, CIMultiDict(resp.headers), body)
        if method.upper() != "HEAD":
            check_response(method, path, checked.status, checked.headers, body, headers)
        return checked

    async def get(self, path: str, headers: Mapping[str, str] | None = None) -> CheckedResponse:
        """GET and validate."""
        return await self.request("GET", path, headers)


def checking_middleware(
    base_url: str,
) -> Callable[[ClientRequest, ClientHandlerType], Awaitable[ClientResponse]]:
    """An aiohttp client middleware checking every response from ``base_url``."""

    async def check(request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        response = await handler(request)
        if str(request.url).startswith(base_url) and request.method != "HEAD":
            body = await response.read()  # cached: the caller can still read it
            check_response(
                request.method,
                request.url.path,
                response.status,
                response.headers,
                body,
                request.headers,
            )
        return response

    return check


def checking_httpx_client() -> httpx.AsyncClient:
    """An httpx client (as the published client uses) checking every response."""

    async def check(response: httpx.Response) -> None:
        await response.aread()
        check_response(
            response.request.method,
            response.request.url.path,
            response.status_code,
            response.headers,
            response.content,
            response.request.headers,
        )

    return httpx.AsyncClient(event_hooks={"response": [check]})
