#!/usr/bin/env bash
# Builds Converge's test control plane (kube-apiserver + embedded etcd +
# kube-controller-manager + kubectl in one `testplane` binary, plus helm) from
# the Go modules in this directory, into a cache outside the checkout:
#
#   ${CONVERGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/converge}/controlplane/v1.37.2-<hash>/bin/
#
# <hash> covers this script, both go.mod/go.sum pairs and the Go sources, so
# any change gives a fresh directory. If that directory is complete the script
# only prints it. The LAST line on stdout is always the bin directory;
# progress goes to stderr.
#
# Needs only Go (>= the go.mod `go` line) and the Go module proxy. Env knobs:
#   CONVERGE_CACHE       cache root (default above)
#   CONVERGE_BUILD_JOBS  go build -p (default 2: keeps peak memory modest)
#   CONVERGE_BUILD_GOCACHE / GOCACHE, GOMODCACHE  as usual for Go
set -euo pipefail

KUBE_VERSION=v1.37.2
KUBE_BUILD_DATE=2026-10-27T12:01:04Z # commit time of k8s.io/kubernetes v1.37.2 on the module proxy
HELM_VERSION=v4.3.1

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache_root="${CONVERGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/converge}/controlplane"

hash_inputs() {
	# Stable order, content plus name, so renames count too.
	(cd "$here" && for f in build.sh go.mod go.sum helm/go.mod helm/go.sum $(LC_ALL=C ls ./*.go); do
		printf '%s\n' "$f"
		cat "$f"
	done)
}
if command -v sha256sum >/dev/null 2>&1; then
	hash="$(hash_inputs | sha256sum | cut -c1-16)"
else
	hash="$(hash_inputs | shasum -a 256 | cut -c1-16)"
fi
out="$cache_root/$KUBE_VERSION-$hash"
bin="$out/bin"

complete() { [[ -f "$out/.complete" && -x "$bin/testplane" && -x "$bin/helm" && -e "$bin/kubectl" ]]; }

if complete; then
	touch "$out/.last-used" 2>/dev/null || true # lets old builds be pruned
	echo "$bin"
	exit 0
fi

log() { echo "build.sh: $*" >&2; }

command -v go >/dev/null 2>&1 || {
	log "go is not on PATH; install Go (see $here/go.mod for the minimum version)"
	exit 1
}
grep -q "k8s.io/kubernetes $KUBE_VERSION\$" "$here/go.mod" || {
	log "go.mod does not require k8s.io/kubernetes $KUBE_VERSION; update KUBE_VERSION in build.sh"
	exit 1
}

mkdir -p "$cache_root"
# Several test binaries may call this at once: one builds, the others wait.
exec 9>"$cache_root/.lock"
if command -v flock >/dev/null 2>&1; then
	flock -n 9 || { log "another build is running; waiting for $cache_root/.lock"; flock 9; }
fi
if complete; then
	echo "$bin"
	exit 0
fi

# Never fetch a toolchain binary; build reproducibly from the committed go.sum.
export GOTOOLCHAIN=local
export GOFLAGS=
export CGO_ENABLED=0
if [[ -n "${CONVERGE_BUILD_GOCACHE:-}" ]]; then export GOCACHE="$CONVERGE_BUILD_GOCACHE"; fi
jobs="${CONVERGE_BUILD_JOBS:-2}"

tmp="$(mktemp -d "$cache_root/.build-XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/bin"

kv() { printf -- "-X '%s=%s' " "$1" "$2"; }
kube_ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
	kube_ldflags+=" $(kv $pkg.gitVersion "$KUBE_VERSION")"
	kube_ldflags+="$(kv $pkg.gitMajor 1)"
	kube_ldflags+="$(kv $pkg.gitMinor 37)"
	kube_ldflags+="$(kv $pkg.gitTreeState clean)"
	kube_ldflags+="$(kv $pkg.gitCommit '')"
	kube_ldflags+="$(kv $pkg.buildDate "$KUBE_BUILD_DATE")"
done
helm_ldflags="-s -w $(kv helm.sh/helm/v4/internal/version.version "$HELM_VERSION")$(kv helm.sh/helm/v4/internal/version.gitTreeState clean)"

common=(-p "$jobs" -trimpath -buildvcs=false -mod=readonly)

start=$SECONDS
log "building testplane (kube-apiserver, kube-controller-manager, kubectl, etcd) $KUBE_VERSION with -p $jobs; a cold build takes several minutes"
(cd "$here" && go build "${common[@]}" -ldflags "$kube_ldflags" -o "$tmp/bin/testplane" .)
log "testplane built after $((SECONDS - start))s"

log "building helm $HELM_VERSION"
(cd "$here/helm" && go build "${common[@]}" -ldflags "$helm_ldflags" -o "$tmp/bin/helm" helm.sh/helm/v4/cmd/helm)
log "helm built after $((SECONDS - start))s"

for applet in kubectl kube-apiserver kube-controller-manager; do
	ln -s testplane "$tmp/bin/$applet"
done
echo "kubernetes $KUBE_VERSION helm $HELM_VERSION hash $hash built $(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$tmp/.complete"

touch "$tmp/.last-used"
rm -rf "$out"
mv "$tmp" "$out"
trap - EXIT

# Prune builds no checkout has used for a week, and leftovers of killed builds.
for old in "$cache_root"/v*-*; do
	[[ -d "$old" && "$old" != "$out" ]] || continue
	stamp="$old/.last-used"
	[[ -e "$stamp" ]] || stamp="$old"
	if [[ -n "$(find "$stamp" -maxdepth 0 -mtime +7 2>/dev/null)" ]]; then
		log "pruning $old (unused for a week)"
		rm -rf "$old"
	fi
done
find "$cache_root" -mindepth 1 -maxdepth 1 -type d -name '.build-*' -mmin +1440 -exec rm -rf {} + 2>/dev/null || true
log "done in $((SECONDS - start))s: $bin"
echo "$bin"
