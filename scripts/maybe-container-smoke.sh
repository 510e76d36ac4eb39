#!/usr/bin/env bash
# Runs the container smoke test (test/container/smoke.sh) when podman is
# available. Without podman: skips with a message locally, fails in CI
# (CI=true), where .ci/run installs podman, runc and debootstrap.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v podman >/dev/null 2>&1 || ! command -v runc >/dev/null 2>&1; then
  if [ "${CI:-}" = "true" ]; then
    echo "container smoke: podman/runc missing in CI (apt-get install podman runc debootstrap)" >&2
    exit 1
  fi
  echo "container smoke: skipped (podman not installed; apt-get install podman runc debootstrap, then npm run test:container)"
  exit 0
fi
exec bash test/container/smoke.sh
