#!/usr/bin/env bash
# Create .venv with Python 3.12+ and install the package (editable) with the
# extras given as arguments, e.g. `scripts/bootstrap.sh test,dev`.
set -euo pipefail
cd "$(dirname "$0")/.."

find_python() {
  for candidate in python3.12 python3.13 \
      /root/.pyenv/versions/3.12*/bin/python3.12 /root/.pyenv/versions/3.13*/bin/python3.13 \
      /usr/local/bin/python3.12 /usr/bin/python3.12 python3; do
    local exe
    exe=$(command -v "$candidate" 2>/dev/null || true)
    [ -n "$exe" ] || continue
    if "$exe" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
      echo "$exe"; return 0
    fi
  done
  return 1
}

extras="${1:-}"
if [ ! -x .venv/bin/python ]; then
  python=$(find_python) || { echo "bootstrap: Python 3.12 or newer is required" >&2; exit 1; }
  "$python" -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip 2>&1 \
    | { grep -v "is ignored: it is neither a file nor a directory" || true; }
fi
spec="."
[ -n "$extras" ] && spec=".[$extras]"
# This machine's pip configuration names local package folders that may be
# absent; pip warns about each one, which only buries real errors.
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e "$spec" 2>&1 \
  | { grep -v "is ignored: it is neither a file nor a directory" || true; }
