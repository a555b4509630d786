"""Start ``repertoire`` as a real process on a free port, for socket-level tests."""

from __future__ import annotations

import itertools
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

__all__ = [
    "RunningServer",
    "free_port",
    "run_cli",
    "running_process",
    "running_server",
    "server_factory",
]

REPO = Path(__file__).resolve().parents[2]
_SERVER_NUMBERS = itertools.count(1)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class RunningServer:
    """A server process and where to reach it."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        """Everything the server wrote to stderr so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def run_cli(args: Sequence[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``python -m server ARGS`` to completion, capturing its output."""
    return subprocess.run(
        [sys.executable, "-m", "server", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@contextmanager
def running_process(
    module_args: Sequence[str],
    log_path: Path,
    *,
    env: dict[str, str] | None = None,
    startup_timeout: float = 20,
) -> Iterator[RunningServer]:
    """Run ``python -m MODULE ARGS --port <free>`` until its ``/health`` answers.

    The benchmark starts its servers the same way.
    """
    port = free_port()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", *module_args, "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            cwd=REPO,
        )
    server = RunningServer(process, port, log_path)
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"{module_args[0]} exited with {process.returncode}:\n{server.log()}"
                )
            try:
                with urllib.request.urlopen(f"{server.base_url}/health", timeout=1):  # noqa: S310 (loopback http URL)
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{module_args[0]} did not start:\n{server.log()}") from None
                time.sleep(0.05)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def running_server(
    args: Sequence[str],
    log_dir: Path,
    *,
    env: dict[str, str] | None = None,
    startup_timeout: float = 20,
) -> Iterator[RunningServer]:
    """Run ``python -m server serve ARGS --port <free>`` until the block ends."""
    log_path = log_dir / f"server-{next(_SERVER_NUMBERS)}.log"
    with running_process(
        ["server", "serve", *args], log_path, env=env, startup_timeout=startup_timeout
    ) as server:
        yield server


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Callable[..., RunningServer]]:
    """Start servers with given arguments; all stop when the test ends."""
    with ExitStack() as stack:

        def start(args: Sequence[str], env: dict[str, str] | None = None) -> RunningServer:
            return stack.enter_context(running_server(args, tmp_path, env=env))

        yield start
