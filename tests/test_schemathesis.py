"""schemathesis fuzzes the running server on a real socket, every operation."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tests.conftest import REPO, Deployment
from tests.support.server import RunningServer


def _schemathesis() -> list[str]:
    executable = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    assert executable, "schemathesis is a test dependency (pip install -e .[test])"
    return [executable]


def test_schemathesis_finds_nothing(
    server_factory: Callable[..., RunningServer], deployment: Deployment, tmp_path: Path
) -> None:
    server = server_factory(deployment.cli_args())
    result = subprocess.run(
        [
            *_schemathesis(),
            "run",
            str(REPO / "openapi.yaml"),
            "--url",
            server.base_url,
            "--header",
            f"Authorization: Bearer {deployment.token}",
            "--checks",
            "all",
            "--max-examples",
            "40",
            "--seed",
            "20261204",
            "--workers",
            "2",
            "--report-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=tmp_path,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-8000:]
    assert "Operations" in output or "passed" in output
    assert "Unexpected error" not in server.log()  # no 500 from our code
