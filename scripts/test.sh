#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs what it needs (Python
# packages in .venv, Debian's influxdb for the real-InfluxDB tests), then runs
# ruff, mypy --strict and pytest. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v influxd >/dev/null 2>&1; then
  echo "test.sh: installing Debian's influxdb (the tests start their own server)"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq influxdb >/dev/null
fi

scripts/bootstrap.sh test,dev

echo "== ruff"
.venv/bin/ruff check .
echo "== mypy --strict"
.venv/bin/mypy
echo "== pytest"
.venv/bin/python -m pytest -p no:cacheprovider "$@"
