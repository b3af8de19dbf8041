#!/usr/bin/env bash
# Builds the `kstatus` test command (main.go: sigs.k8s.io/cli-utils' kstatus on stdin) into a
# cache outside the checkout, like ../controlplane/build.sh:
#
#   ${CONVERGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/converge}/kstatus/<cli-utils version>-<hash>/bin/kstatus
#
# <hash> covers this script, go.mod, go.sum and the Go sources. If that binary exists the
# script only prints its directory. The LAST line on stdout is always the bin directory;
# progress goes to stderr. Needs only Go and the Go module proxy (a cold build: ~20 s).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache_root="${CONVERGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/converge}/kstatus"
version="$(awk '$1 == "sigs.k8s.io/cli-utils" { print $2 }' "$here/go.mod")"

hash_inputs() {
	(cd "$here" && for f in build.sh go.mod go.sum $(LC_ALL=C ls ./*.go); do
		printf '%s\n' "$f"
		cat "$f"
	done)
}
if command -v sha256sum >/dev/null 2>&1; then
	hash="$(hash_inputs | sha256sum | cut -c1-16)"
else
	hash="$(hash_inputs | shasum -a 256 | cut -c1-16)"
fi
out="$cache_root/$version-$hash"
bin="$out/bin"

if [[ -x "$bin/kstatus" ]]; then
	touch "$out/.last-used" 2>/dev/null || true
	echo "$bin"
	exit 0
fi

log() { echo "kstatus/build.sh: $*" >&2; }
command -v go >/dev/null 2>&1 || {
	log "go is not on PATH; install Go (see $here/go.mod for the minimum version)"
	exit 1
}

mkdir -p "$cache_root"
# Test binaries may call this at once: one builds, the others wait.
exec 9>"$cache_root/.lock"
if command -v flock >/dev/null 2>&1; then
	flock -n 9 || { log "another build is running; waiting for $cache_root/.lock"; flock 9; }
fi
if [[ -x "$bin/kstatus" ]]; then
	echo "$bin"
	exit 0
fi

# Never fetch a toolchain binary; build reproducibly from the committed go.sum.
export GOTOOLCHAIN=local
export GOFLAGS=
export CGO_ENABLED=0

tmp="$(mktemp -d "$cache_root/.build-XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/bin"
start=$SECONDS
log "building kstatus (sigs.k8s.io/cli-utils $version)"
(cd "$here" && go build -trimpath -buildvcs=false -mod=readonly -ldflags "-s -w" -o "$tmp/bin/kstatus" .)
touch "$tmp/.last-used"
rm -rf "$out"
mv "$tmp" "$out"
trap - EXIT

# Prune builds no checkout has used for a week.
for old in "$cache_root"/v*-*; do
	[[ -d "$old" && "$old" != "$out" ]] || continue
	if [[ -n "$(find "$old/.last-used" -maxdepth 0 -mtime +7 2>/dev/null)" ]]; then
		log "pruning $old (unused for a week)"
		rm -rf "$old"
	fi
done
log "done in $((SECONDS - start))s: $bin"
echo "$bin"
