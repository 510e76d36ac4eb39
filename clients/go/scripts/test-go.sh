#!/usr/bin/env bash
# `npm run test:go`: checks and tests the Go client in clients/go.
#
#  1. the Go toolchain is installed;
#  2. clients/go/gen is what the protos generate (regenerated into a
#     temporary directory and diffed);
#  3. go.mod/go.sum are tidy and the code is gofmt-ed;
#  4. go vet ./...;
#  5. the server is built (npm run build), unless PENGUIFLOW_TARGET names a
#     running server;
#  6. go test ./... (starts dist/server/main.js on a free port, or uses
#     PENGUIFLOW_TARGET).
#
# Go modules and the protoc plugins are downloaded through the Go module
# proxy on first use. Extra arguments are passed to `go test`
# (e.g. `npm run test:go -- -run Offline -v`).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
GO_DIR="$ROOT/clients/go"
TEMPLATE="clients/go/buf.gen.go.yaml"

fail() {
  printf '\ntest:go: FAILED: %s\n' "$1" >&2
  shift
  for line in "$@"; do printf '  %s\n' "$line" >&2; done
  exit 1
}

step() { printf '\n== test:go: %s\n' "$1"; }

# 1. Toolchain.
if ! command -v go >/dev/null 2>&1; then
  fail "the Go toolchain is not installed (no \`go\` on PATH)." \
    "Install Go 1.26 or later from https://go.dev/dl/, e.g. on Linux x86-64:" \
    "  curl -fsSL https://go.dev/dl/go1.26.0.linux-amd64.tar.gz | sudo tar -C /usr/local -xz" \
    "  export PATH=\$PATH:/usr/local/go/bin" \
    "or with a package manager (brew install go, apt-get install golang-go if recent enough), then rerun: npm run test:go"
fi
step "$(go version)"

# 2. Generated code is fresh.
step "checking that clients/go/gen is up to date with proto/"
BUF="$ROOT/node_modules/.bin/buf"
[[ -x "$BUF" ]] || fail "buf is missing ($BUF)." "Install the repository's npm dependencies first: npm ci"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
(cd "$ROOT" && "$BUF" generate --template "$TEMPLATE" --output "$TMP") ||
  fail "could not regenerate the Go code (see the buf/protoc-gen-go output above)."
if ! diff -ru "$GO_DIR/gen" "$TMP/clients/go/gen" >"$TMP/gen.diff"; then
  head -n 60 "$TMP/gen.diff" >&2
  fail "clients/go/gen is stale: it differs from what proto/ generates (diff above, committed vs fresh)." \
    "Regenerate and commit it:  npx buf generate --template $TEMPLATE"
fi
echo "gen/ is fresh"

cd "$GO_DIR"

# 3. Tidy modules and formatting.
step "go mod tidy -diff && gofmt -l"
go mod tidy -diff || fail "go.mod/go.sum are not tidy." "Fix with: (cd clients/go && go mod tidy)"
UNFORMATTED="$(gofmt -l .)"
[[ -z "$UNFORMATTED" ]] || fail "files are not gofmt-ed: $UNFORMATTED" "Fix with: (cd clients/go && gofmt -w .)"

# 4. Vet.
step "go vet ./..."
go vet ./...

# 5. Server build.
if [[ -z "${PENGUIFLOW_TARGET:-}" ]]; then
  step "npm run build (the tests start dist/server/main.js)"
  (cd "$ROOT" && npm run build --silent) || fail "the server does not build; the Go tests need dist/server/main.js."
else
  step "using the server at PENGUIFLOW_TARGET=$PENGUIFLOW_TARGET"
fi

# 6. Tests.
step "go test ./..."
go test -count=1 "$@" ./...
