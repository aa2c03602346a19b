#!/usr/bin/env bash
# Install what the tests need, idempotently:
#  - promtool and prometheus from Debian's `prometheus` package (promtool check config,
#    and the end-to-end sharding test that runs real Prometheus servers on loopback);
#  - kubernetes-validate (and checkov) from PyPI in a virtualenv at $STACKGEN_VENV
#    (default /tmp/stackgen-validators), which the tests find on their own.
set -euo pipefail
VENV=${STACKGEN_VENV:-/tmp/stackgen-validators}
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"

if ! command -v promtool >/dev/null || ! command -v prometheus >/dev/null; then
  echo "installing Debian package prometheus (promtool, prometheus)" >&2
  $SUDO apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q prometheus >/dev/null
  # The package starts a server on :9090 under systemd; the tests need only the binaries.
  $SUDO systemctl stop prometheus 2>/dev/null || true
fi

if [ ! -x "$VENV/bin/kubernetes-validate" ] || [ ! -x "$VENV/bin/checkov" ]; then
  echo "installing kubernetes-validate and checkov into $VENV" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check kubernetes-validate checkov pyyaml
fi

promtool --version 2>&1 | head -n1
"$VENV/bin/kubernetes-validate" --version 2>&1 | head -n1 || true
