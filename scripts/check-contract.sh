#!/usr/bin/env bash
# Contract checks: buf lint, generated code up to date, no breaking change
# against the previous commit. Run by `npm test`.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"
buf=buf

"$buf" lint

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$buf" generate -o "$tmp"
stale=0
for dir in src/gen clients/typescript/src/gen; do
  if ! diff -r "$tmp/$dir" "$dir" >/dev/null 2>&1; then
    echo "generated code in $dir is stale: run 'npm run generate' and commit the result" >&2
    diff -r "$tmp/$dir" "$dir" | head -20 >&2 || true
    stale=1
  fi
done
[ "$stale" = 0 ] || exit 1

# Breaking-change check against the previous commit, once it had a contract.
if git rev-parse --verify -q HEAD~1 >/dev/null && git cat-file -e HEAD~1:proto/penguiflow/v1 2>/dev/null; then
  "$buf" breaking --against ".git#ref=HEAD~1"
  echo "buf breaking: no breaking change against HEAD~1"
else
  echo "buf breaking: skipped (no previous commit with a contract)"
fi
echo "contract checks passed"
