#!/usr/bin/env bash
# `npm run test:python`: set up <repo>/.venv (python3 -m venv), install the
# client with its test extra (pip install -e 'clients/python[test]'), fail if
# the generated stubs are stale, then run the pytest suite. Arguments are
# passed to pytest, e.g. `npm run test:python -- -k async -x`.
#
# The live tests spawn `node dist/server/main.js` (run `npm run build` first)
# unless PENGUIFLOW_TARGET=host:port names a running server.
set -euo pipefail

here="$(cd "${BASH_SOURCE[0]%/*}" && pwd)"
client="$(cd "$here/.." && pwd)"
repo="$(cd "$client/../.." && pwd)"
venv="$repo/.venv"
python="${PYTHON:-python3}"

fail() {
  echo "test:python: $*" >&2
  exit 1
}

if ! command -v "$python" >/dev/null 2>&1; then
  fail "'$python' was not found on PATH. The Python client needs Python 3.11 or newer.
  Install it, then rerun 'npm run test:python':
    Debian/Ubuntu:  apt-get install -y python3 python3-venv
    macOS:          brew install python@3.11
  (or set PYTHON=/path/to/python3.11)"
fi
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  fail "$("$python" --version 2>&1) is too old: the Python client needs Python 3.11 or newer (set PYTHON=/path/to/python3.11)."
fi

if [ -e "$venv" ] && ! "$venv/bin/python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  fail "$venv exists but is not a Python 3.11+ virtualenv; remove it (rm -rf '$venv') and rerun."
fi
if [ ! -x "$venv/bin/python" ]; then
  echo "test:python: creating virtualenv $venv"
  "$python" -m venv "$venv" || fail "'$python -m venv $venv' failed; on Debian/Ubuntu install the venv module: apt-get install -y python3-venv"
fi

# Reinstall only when the project definition changed (or the install is broken).
stamp="$venv/.penguiflow-client-installed"
want="$(cat "$client/pyproject.toml" | cksum)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ] \
  || ! "$venv/bin/python" -c 'import penguiflow_client, pytest, pytest_asyncio, grpc_tools' 2>/dev/null; then
  echo "test:python: pip install -e 'clients/python[test]'"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e "$client[test]" \
    || fail "pip install -e '$client[test]' failed (see above)"
  echo "$want" >"$stamp"
fi

"$venv/bin/python" "$client/scripts/generate.py" --check || exit 1

if [ -z "${PENGUIFLOW_TARGET:-}" ] && [ ! -f "$repo/dist/server/main.js" ]; then
  echo "test:python: warning: $repo/dist/server/main.js is missing, so the live tests will fail; run 'npm run build' first (or set PENGUIFLOW_TARGET=host:port)." >&2
fi

cd "$client"
exec "$venv/bin/python" -m pytest "$@"
