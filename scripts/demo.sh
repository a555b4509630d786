#!/usr/bin/env bash
# Start Repertoire on its bundled demo configuration at http://127.0.0.1:8080.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
exec .venv/bin/repertoire serve "$@"
