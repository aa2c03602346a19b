#!/usr/bin/env bash
# Build the real programs the tests run, from their Go modules, each cached by component
# and version outside the checkout; print the bin directory on stdout.
#
#   scripts/real-components.sh [COMPONENT...]    # default: all
#
# Components: etcd kube (kube-apiserver, kube-controller-manager, kube-scheduler, kubectl)
#             prometheus (prometheus, promtool) thanos alertmanager (alertmanager, amtool)
#             operator (the Prometheus Operator and its prometheus-config-reloader)
#             blackbox (blackbox_exporter)
#
# Versions live in one place: the Prometheus, Thanos and Alertmanager versions are read
# from the image constants the render uses (src/model/mod.rs), the rest are pinned below.
# Cache: $STACKGEN_TESTBIN (default ~/.cache/stackgen/testbin); a component is rebuilt only
# when its version directory lacks a binary. The Go module and build caches are Go's own
# (GOMODCACHE, GOCACHE), outside the checkout too, so a rebuild after a version bump
# relinks in minutes. A cold build of everything takes ~25-35 min on 2 cores.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TESTBIN=${STACKGEN_TESTBIN:-$HOME/.cache/stackgen/testbin}

# ---- versions (one place) -------------------------------------------------------------
model_const() { sed -n "s/^pub const $1: &str = \"\(.*\)\";/\1/p" "$ROOT/src/model/mod.rs"; }
KUBE_VERSION=v1.33.5
ETCD_VERSION=v3.5.21
PROMETHEUS_VERSION=$(model_const DEFAULT_PROMETHEUS_VERSION)       # v3.5.0
THANOS_VERSION=$(model_const DEFAULT_THANOS_VERSION)               # v0.39.2
ALERTMANAGER_VERSION=$(model_const DEFAULT_ALERTMANAGER_VERSION)   # v0.28.1
OPERATOR_VERSION=$(model_const PROMETHEUS_OPERATOR_VERSION)        # v0.93.1 (chart 88.5.3)
# The blackbox_exporter version is the image constant of src/alerting/blackbox.rs.
BLACKBOX_VERSION=$(sed -n 's/^pub const BLACKBOX_EXPORTER_VERSION: &str = "\(.*\)";/\1/p' "$ROOT/src/alerting/blackbox.rs")  # v0.28.0
for v in PROMETHEUS_VERSION THANOS_VERSION ALERTMANAGER_VERSION OPERATOR_VERSION BLACKBOX_VERSION; do
  [ -n "${!v}" ] || { echo "real-components: cannot read $v from src/model/mod.rs" >&2; exit 2; }
done
# Prometheus v3.X.Y is published as the Go module v0.3XX.Y.
prom_module_version() { local v=${1#v}; IFS=. read -r ma mi pa <<<"$v"; printf 'v0.%d%02d.%d' "$ma" "$mi" "$pa"; }

if [ "${1:-}" = "--versions" ]; then
  printf 'kube %s\netcd %s\nprometheus %s\nthanos %s\nalertmanager %s\noperator %s\nblackbox %s\n' \
    "$KUBE_VERSION" "$ETCD_VERSION" "$PROMETHEUS_VERSION" "$THANOS_VERSION" \
    "$ALERTMANAGER_VERSION" "$OPERATOR_VERSION" "$BLACKBOX_VERSION"
  exit 0
fi

command -v go >/dev/null || { echo "real-components: go is not installed" >&2; exit 2; }
export CGO_ENABLED=0 GOFLAGS=-mod=mod GOTOOLCHAIN=local
BIN="$TESTBIN/bin"
mkdir -p "$BIN"

log() { echo "real-components: $*" >&2; }

# A package is PKG or PKG:BINARY (when the binary is not named after the last element).
binname() { case $1 in *:*) echo "${1##*:}" ;; *) basename "$1" ;; esac; }
# Relative replace directives point into the module's own repository; use the published
# modules instead.
no_relative() { grep -vE '=> \.\.?/'; }

# build NAME MODULE VERSION "PKG..." [LDFLAGS] [REPLACE_FILTER]
# Builds PKGs of MODULE@VERSION in a scratch module that requires it and copies its
# replace/exclude directives; installs binaries into $TESTBIN/NAME-VERSION and links them
# into $TESTBIN/bin.
build() {
  local name=$1 module=$2 version=$3 pkgs=$4 ldflags=${5:-} filter=${6:-cat}
  local dest="$TESTBIN/$name-$version" p bin missing=0
  for p in $pkgs; do [ -x "$dest/$(binname "$p")" ] || missing=1; done
  if [ "$missing" = 1 ]; then
    log "building $name $version (cold: minutes; cached afterwards in $dest)"
    local work; work=$(mktemp -d "${TMPDIR:-/tmp}/stackgen-build-$name.XXXXXX")
    # shellcheck disable=SC2064
    trap "rm -rf '$work'" RETURN
    (
      cd "$work"
      go mod init "stackgen.local/build-$name" >/dev/null 2>&1
      local gomod
      gomod=$(go mod download -json "$module@$version" | sed -n 's/^\t"GoMod": "\(.*\)",$/\1/p')
      [ -f "$gomod" ] || { echo "cannot download $module@$version"; exit 1; }
      {
        echo "require $module $version"
        # Copy the replace and exclude directives (block or single-line form).
        awk '/^(replace|exclude) \($/{b=$1; print; next} b && /^\)/{print; b=""; next} b{print; next}
             /^(replace|exclude) [^(]/{print}' "$gomod" | $filter
      } >>go.mod
      mkdir -p "$dest.tmp"
      for p in $pkgs; do
        go build -trimpath -ldflags "-s -w $ldflags" -o "$dest.tmp/$(binname "$p")" "${p%%:*}"
      done
    ) >"$work/log" 2>&1 || {
      log "FAILED to build $name $version ($module); last lines of the build log:"
      tail -n 30 "$work/log" >&2
      rm -rf "$dest.tmp"
      return 1
    }
    rm -rf "$dest"; mv "$dest.tmp" "$dest"
  fi
  for p in $pkgs; do
    bin=$(binname "$p")
    ln -sfn "$dest/$bin" "$BIN/$bin"
  done
}

# k8s.io/kubernetes replaces its staging modules with ./staging/src/k8s.io/X; the
# published modules are k8s.io/X v0.<minor>.<patch>.
kube_filter() { sed -E "s#=> \./staging/src/(k8s\.io/[^ ]+)#=> \1 v0.${KUBE_VERSION#v1.}#"; }

# The operator replaces its own pkg/apis/monitoring and pkg/client submodules with
# ./pkg/...; those are published at the same version as the operator.
operator_filter() {
  sed -E "s#=> \./(pkg/[^ ]+)#=> github.com/prometheus-operator/prometheus-operator/\1 ${OPERATOR_VERSION}#"
}

want() { [ $# -eq 0 ] && return 0; local c; for c in "${COMPONENTS[@]}"; do [ "$c" = "$1" ] && return 0; done; return 1; }
COMPONENTS=("$@")
[ ${#COMPONENTS[@]} -gt 0 ] || COMPONENTS=(etcd kube prometheus thanos alertmanager operator blackbox)

status=0
if want etcd; then
  build etcd go.etcd.io/etcd/server/v3 "$ETCD_VERSION" "go.etcd.io/etcd/server/v3:etcd" "" no_relative || status=1
fi
if want kube; then
  build kube k8s.io/kubernetes "$KUBE_VERSION" \
    "k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl" \
    "-X k8s.io/component-base/version.gitVersion=$KUBE_VERSION -X k8s.io/client-go/pkg/version.gitVersion=$KUBE_VERSION" \
    kube_filter || status=1
fi
if want prometheus; then
  build prometheus github.com/prometheus/prometheus "$(prom_module_version "$PROMETHEUS_VERSION")" \
    "github.com/prometheus/prometheus/cmd/prometheus github.com/prometheus/prometheus/cmd/promtool" \
    "-X github.com/prometheus/common/version.Version=${PROMETHEUS_VERSION#v}" || status=1
fi
# Thanos needs zenhack.net/go/util (through capnproto.org/go/capnp/v3, Receive's Cap'n Proto
# replication), which the module proxy reachable here does not serve (403: host not on its
# allowlist); scripts/real-components/zenhack-util stands in for it (see its README.md).
thanos_filter() { cat; echo "replace zenhack.net/go/util => $ROOT/scripts/real-components/zenhack-util"; }
if want thanos; then
  build thanos github.com/thanos-io/thanos "$THANOS_VERSION" "github.com/thanos-io/thanos/cmd/thanos" \
    "-X github.com/prometheus/common/version.Version=${THANOS_VERSION#v}" thanos_filter || status=1
fi
if want alertmanager; then
  build alertmanager github.com/prometheus/alertmanager "$ALERTMANAGER_VERSION" \
    "github.com/prometheus/alertmanager/cmd/alertmanager github.com/prometheus/alertmanager/cmd/amtool" \
    "-X github.com/prometheus/common/version.Version=${ALERTMANAGER_VERSION#v}" || status=1
fi
if want operator; then
  build operator github.com/prometheus-operator/prometheus-operator "$OPERATOR_VERSION" \
    "github.com/prometheus-operator/prometheus-operator/cmd/operator github.com/prometheus-operator/prometheus-operator/cmd/prometheus-config-reloader" \
    "-X github.com/prometheus/common/version.Version=${OPERATOR_VERSION#v}" operator_filter || status=1
fi
if want blackbox; then
  build blackbox github.com/prometheus/blackbox_exporter "$BLACKBOX_VERSION" "github.com/prometheus/blackbox_exporter" \
    "-X github.com/prometheus/common/version.Version=${BLACKBOX_VERSION#v}" || status=1
fi
[ "$status" = 0 ] || { log "some components failed to build (see above)"; exit 1; }
echo "$BIN"
