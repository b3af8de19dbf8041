#!/usr/bin/env bash
# Installs the contract test's validator, Stoplight Prism, at the versions package-lock.json pins,
# into the cache (outside the checkout), from the npm registry. Idempotent: a cached install of
# the same lock file is kept. tests/contract.rs finds it at $CONVERGE_CACHE/prism/.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${CONVERGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/converge}"
key="$(cat "$here/prism/package.json" "$here/prism/package-lock.json" | sha256sum | cut -c1-12)"
dest="$cache/prism-$key"
if [ ! -x "$dest/node_modules/.bin/prism" ]; then
  command -v npm >/dev/null || { echo "missing npm: install Node.js 18.20 or newer with npm" >&2; exit 1; }
  tmp="$dest.partial.$$"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  cp "$here/prism/package.json" "$here/prism/package-lock.json" "$tmp/"
  # No install scripts: Prism needs none, and one of its dependencies would phone home.
  (cd "$tmp" && SCARF_ANALYTICS=false npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
  rm -rf "$dest"
  mv "$tmp" "$dest"
fi
ln -sfn "$dest" "$cache/prism"
echo "prism $(SCARF_ANALYTICS=false "$cache/prism/node_modules/.bin/prism" --version) in $dest"
