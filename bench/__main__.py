"""``python -m bench``: our service against the bare-aiohttp floor, A/B/A/B.

Both servers run as separate single processes on loopback and are driven by
the same wrk command (2 threads, 50 connections) in alternation, so machine
noise hits both alike; each figure is the median of the repeats.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bench.deployment import Deployment, large, realistic
from bench.process import cpu_seconds, rss_mib
from bench.wrk import WrkResult, ensure_wrk, run_wrk
from tests.support.server import RunningServer, running_process

PREFIX = "/repertoire"
P99_TARGET_MS = 10.0
RSS_TARGET_MIB = 60.0


@dataclass(frozen=True, slots=True)
class Route:
    """One measured request and the ratio it must reach."""

    name: str
    path: str
    headers: Mapping[str, str]
    target_ratio: float


@dataclass(frozen=True, slots=True)
class Measurement:
    """Medians over the repeats of one server on one route.

    ``cpu_us`` is the server's CPU time per request: unlike requests/s it
    barely moves when other processes compete for the machine.
    """

    requests_per_second: float
    p50_ms: float
    p99_ms: float
    cpu_us: float
    failures: int


@dataclass(frozen=True, slots=True)
class Comparison:
    """Medians of the repeats for ours and the floor on one route."""

    route: Route
    ours: Measurement
    floor: Measurement

    @property
    def ratio(self) -> float:
        """Our requests/s as a fraction of the floor's."""
        return self.ours.requests_per_second / self.floor.requests_per_second

    @property
    def cpu_ratio(self) -> float:
        """The floor's CPU time per request as a fraction of ours."""
        return self.floor.cpu_us / self.ours.cpu_us


@dataclass(frozen=True, slots=True)
class Settings:
    """How long and how often to load each server."""

    wrk: str
    warmup: int
    seconds: int
    repeats: int


def _fetch(url: str, headers: Mapping[str, str]) -> tuple[int, str, bytes, str]:
    """Status, Content-Type, body and ETag, without following the 304."""
    request = urllib.request.Request(url, headers=dict(headers))  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback http)
            return (
                response.status,
                response.headers.get_content_type(),
                response.read(),
                response.headers.get("ETag", ""),
            )
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get_content_type(), exc.read(), ""


def _median(runs: list[tuple[WrkResult, float]]) -> Measurement:
    return Measurement(
        statistics.median(r.requests_per_second for r, _ in runs),
        statistics.median(r.p50_ms for r, _ in runs),
        statistics.median(r.p99_ms for r, _ in runs),
        statistics.median(cpu for _, cpu in runs),
        sum(r.failures for r, _ in runs),
    )


def _compare(
    route: Route, ours: RunningServer, floor: RunningServer, settings: Settings
) -> Comparison:
    def load(server: RunningServer, seconds: int) -> tuple[WrkResult, float]:
        """One wrk run and the server's CPU microseconds per request during it."""
        before = cpu_seconds(server.process.pid)
        result = run_wrk(settings.wrk, server.base_url + route.path, route.headers, seconds=seconds)
        used = cpu_seconds(server.process.pid) - before
        return result, used * 1e6 / result.requests

    load(ours, settings.warmup)
    load(floor, settings.warmup)
    our_runs: list[tuple[WrkResult, float]] = []
    floor_runs: list[tuple[WrkResult, float]] = []
    for _ in range(settings.repeats):
        our_runs.append(load(ours, settings.seconds))
        floor_runs.append(load(floor, settings.seconds))
    return Comparison(route, _median(our_runs), _median(floor_runs))


def _routes(ours: RunningServer, deployment: Deployment, credentials: bool) -> list[Route]:
    """The routes to measure, checked to answer 200 (or 304) first."""
    discovery = f"{PREFIX}/discovery"
    status, _, _, etag = _fetch(ours.base_url + discovery, {})
    if status != 200 or not etag:
        raise RuntimeError(f"discovery answered {status} with ETag {etag!r}")
    if not credentials:
        return [Route("discovery", discovery, {}, 0.8)]
    credentials_path = f"{discovery}/influxdb/{deployment.labels[0]}"
    bearer = {"Authorization": f"Bearer {deployment.token}"}
    return [
        Route("discovery", discovery, {}, 0.9),
        Route("credentials", credentials_path, bearer, 0.8),
        Route("discovery 304", discovery, {"If-None-Match": etag}, 0.9),
    ]


def _floor_manifest(ours: RunningServer, routes: list[Route], workdir: Path) -> Path:
    """Our exact bodies and Content-Types per path, for the floor to replay."""
    manifest: dict[str, dict[str, str]] = {}
    for index, route in enumerate(routes):
        status, content_type, body, _ = _fetch(ours.base_url + route.path, route.headers)
        if status == 304 or route.path in manifest:
            continue
        if status != 200:
            raise RuntimeError(f"{route.name} answered {status}")
        body_file = workdir / f"body-{index}"
        body_file.write_bytes(body)
        manifest[route.path] = {
            "body_file": str(body_file),
            "content_type": content_type,
        }
    path = workdir / "floor.json"
    path.write_text(json.dumps(manifest), encoding="utf-8")
    return path


def _scenario(
    label: str,
    deployment: Deployment,
    workdir: Path,
    settings: Settings,
    *,
    credentials: bool,
) -> tuple[list[Comparison], float, int]:
    """Measure every route of one configuration; RSS of ours after the load."""
    with running_process(
        ["server", "serve", *deployment.serve_args], workdir / "ours.log", startup_timeout=60
    ) as ours:
        routes = _routes(ours, deployment, credentials)
        manifest = _floor_manifest(ours, routes, workdir)
        size = len(_fetch(ours.base_url + routes[0].path, {})[2])
        with running_process(
            ["bench.floor", "--manifest", str(manifest)], workdir / "floor.log", startup_timeout=60
        ) as floor:
            comparisons = []
            for route in routes:
                print(f"[{label}] {route.name} ...", flush=True)
                comparisons.append(_compare(route, ours, floor, settings))
        return comparisons, rss_mib(ours.process.pid), size


def _verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def _table(rows: list[tuple[str, Comparison]]) -> str:
    lines = [
        "| configuration | route | ours req/s | floor req/s | ours/floor (target)"
        " | ours p50 / p99 ms | floor p50 / p99 ms"
        " | CPU µs/req ours / floor (floor/ours) | errors |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label, c in rows:
        ratio_ok = c.ratio >= c.route.target_ratio
        p99_ok = c.ours.p99_ms < P99_TARGET_MS
        lines.append(
            f"| {label} | {c.route.name} | {c.ours.requests_per_second:,.0f}"
            f" | {c.floor.requests_per_second:,.0f}"
            f" | {c.ratio:.2f} (≥{c.route.target_ratio}) {_verdict(ratio_ok)}"
            f" | {c.ours.p50_ms:.2f} / {c.ours.p99_ms:.2f} {_verdict(p99_ok)}"
            f" | {c.floor.p50_ms:.2f} / {c.floor.p99_ms:.2f}"
            f" | {c.ours.cpu_us:.0f} / {c.floor.cpu_us:.0f} ({c.cpu_ratio:.2f})"
            f" | {c.ours.failures + c.floor.failures} |"
        )
    return "\n".join(lines)


def main() -> None:
    """Run both configurations and print the table."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--seconds", type=int, default=5, help="length of each measured run")
    parser.add_argument("--warmup", type=int, default=2, help="length of the warm-up run")
    parser.add_argument("--repeats", type=int, default=3, help="measured runs per server")
    args = parser.parse_args()
    settings = Settings(ensure_wrk(), args.warmup, args.seconds, args.repeats)
    rows: list[tuple[str, Comparison]] = []
    memory: list[str] = []
    with tempfile.TemporaryDirectory(prefix="repertoire-bench-") as tmp:
        workdir = Path(tmp)
        for label, name, build, credentials in (
            ("summit", "summit", realistic, True),
            ("1,000 databases, 500 apps", "large", large, False),
        ):
            deployment = build(workdir / name)
            comparisons, rss, size = _scenario(
                label, deployment, workdir / name, settings, credentials=credentials
            )
            rows += [(label, c) for c in comparisons]
            verdict = _verdict(rss < RSS_TARGET_MIB)
            memory.append(
                f"- {label}: discovery body {size:,} bytes; RSS of ours after the"
                f" load {rss:.1f} MiB (target <{RSS_TARGET_MIB:.0f}) {verdict}"
            )
    load = ", ".join(f"{average:.2f}" for average in os.getloadavg())
    print(f"\n{os.cpu_count()} CPUs; load average after the run: {load}\n")
    print(_table(rows))
    print()
    print("\n".join(memory))


if __name__ == "__main__":
    main()
