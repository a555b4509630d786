"""Run wrk and read requests/s and latency percentiles from its output."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["WrkResult", "ensure_wrk", "run_wrk"]

_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
_REQUESTS = re.compile(r"^\s+(\d+) requests in", re.MULTILINE)
_RATE = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
_PERCENTILE = re.compile(r"^\s+(50|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s|m)\s*$", re.MULTILINE)
_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_NON_2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")


@dataclass(frozen=True, slots=True)
class WrkResult:
    """One wrk run: throughput, latency percentiles and any failures."""

    requests: int
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    failures: int


def ensure_wrk() -> str:
    """Path of wrk, installed from Debian's packages when missing."""
    found = shutil.which("wrk")
    if found is not None:
        return found
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)
    installed = shutil.which("wrk")
    if installed is None:
        raise RuntimeError("wrk is still missing after apt-get install wrk")
    return installed


def parse(output: str) -> WrkResult:
    """Read wrk's ``--latency`` report."""
    requests = _REQUESTS.search(output)
    rate = _RATE.search(output)
    percentiles = {
        match[1]: float(match[2]) * _UNITS_MS[match[3]] for match in _PERCENTILE.finditer(output)
    }
    if requests is None or rate is None or set(percentiles) != {"50", "99"}:
        raise RuntimeError(f"cannot read wrk output:\n{output}")
    failures = 0
    if (errors := _ERRORS.search(output)) is not None:
        failures += sum(int(count) for count in errors.groups())
    if (non_2xx := _NON_2XX.search(output)) is not None:
        failures += int(non_2xx[1])
    return WrkResult(
        int(requests[1]), float(rate[1]), percentiles["50"], percentiles["99"], failures
    )


def run_wrk(
    wrk: str,
    url: str,
    headers: Mapping[str, str],
    *,
    seconds: int,
    threads: int = 2,
    connections: int = 50,
) -> WrkResult:
    """Load ``url`` for ``seconds`` with keep-alive connections."""
    command = [wrk, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    completed = subprocess.run(
        [*command, url],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    )
    return parse(completed.stdout)
