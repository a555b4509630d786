"""The floor: a bare aiohttp app answering each route with precomputed bytes.

It does no work beyond what aiohttp itself does, so its throughput is the
limit our service can approach on this machine. A request carrying
``If-None-Match`` gets an empty 304, the cheapest conditional answer.

Run as ``python -m bench.floor --port P --manifest FILE``; the manifest maps
each path to a body file and its Content-Type.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.Response]]


def _handler(body: bytes, content_type: str) -> Handler:
    async def handle(request: web.Request) -> web.Response:
        if "If-None-Match" in request.headers:
            return web.Response(status=304)
        return web.Response(body=body, content_type=content_type)

    return handle


def build_app(manifest: dict[str, dict[str, str]]) -> web.Application:
    """One GET route per manifest entry, plus ``/health`` for start-up polling."""
    app = web.Application()
    for path, entry in manifest.items():
        body = Path(entry["body_file"]).read_bytes()
        app.router.add_get(path, _handler(body, entry["content_type"]))
    app.router.add_get("/health", _handler(b'{"status":"ok"}', "application/json"))
    return app


def main() -> None:
    """Serve the manifest on 127.0.0.1 with no access log, like ``repertoire serve``."""
    parser = argparse.ArgumentParser(prog="python -m bench.floor")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--manifest", type=Path, required=True)
    args = parser.parse_args()
    manifest = json.loads(args.manifest.read_text(encoding="utf-8"))
    web.run_app(
        build_app(manifest),
        host="127.0.0.1",
        port=args.port,
        access_log=None,
        print=None,
    )


if __name__ == "__main__":
    main()
