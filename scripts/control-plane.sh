#!/usr/bin/env bash
# A Kubernetes control plane without kubelets, on 127.0.0.1 only, for trying a stack by
# hand and for the tests (tests/it/control_plane.rs): etcd, kube-apiserver (Pod Security
# admission on), kube-controller-manager (StatefulSet, PV binder, garbage collector, ...)
# and kube-scheduler, plus fake Ready nodes. Pods are scheduled (spec.nodeName) but never
# run; claims bind; Pod Security, defaulting and immutable fields are enforced for real.
#
#   scripts/control-plane.sh up [--nodes a,b,c]   # start; prints the kubeconfig path
#   scripts/control-plane.sh nodes a,b,c          # add (or refresh) fake Ready nodes
#   scripts/control-plane.sh env                  # print `export KUBECONFIG=...`
#   scripts/control-plane.sh down                 # stop exactly what `up` started, remove the state
#
# State: $STACKGEN_CP_DIR (default /tmp/stackgen-cp; `up` refuses a directory that is
# already running). Pids in $STACKGEN_CP_DIR/pids, logs in $STACKGEN_CP_DIR/log/.
# Ports: free ports picked at random on 127.0.0.1 (recorded in $STACKGEN_CP_DIR/ports).
# Access: the kubeconfig's token, or the client certificate certs/admin.{crt,key}; both
# are system:masters and authorization is AlwaysAllow: a test cluster, on loopback only.
# Binaries: $STACKGEN_TESTBIN/bin (default ~/.cache/stackgen/testbin/bin), built by
# scripts/real-components.sh. Default nodes: node-a,node-b,node-c (64 CPU, 256Gi, 500 pods).
# Ready (API, controllers, scheduler, nodes) in ~5-15 s warm; `up` gives up (printing the
# logs) when a component is not ready within 60 s.
set -euo pipefail

TESTBIN=${STACKGEN_TESTBIN:-$HOME/.cache/stackgen/testbin}
BIN="$TESTBIN/bin"
DIR=${STACKGEN_CP_DIR:-${TMPDIR:-/tmp}/stackgen-cp}
KUBECONFIG_FILE="$DIR/kubeconfig"
MARKER="$DIR/.stackgen-control-plane"

log() { echo "control-plane: $*" >&2; }
die() { log "$*"; exit 1; }

usage() { sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

kc() { "$BIN/kubectl" --kubeconfig "$KUBECONFIG_FILE" "$@"; }

# A free TCP port on 127.0.0.1, not handed out before in this run.
USED_PORTS=" "
free_port() {
  local p i
  for i in $(seq 1 200); do
    p=$((20000 + RANDOM % 40000))
    case $USED_PORTS in *" $p "*) continue ;; esac
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      USED_PORTS="$USED_PORTS$p "
      echo "$p"
      return 0
    fi
  done
  die "no free port found on 127.0.0.1"
}

running() { # any recorded pid still alive?
  [ -f "$DIR/pids" ] || return 1
  local name pid
  while read -r name pid; do
    kill -0 "$pid" 2>/dev/null && return 0
  done <"$DIR/pids"
  return 1
}

start() { # start NAME CMD... : in the background, logged, pid recorded
  local name=$1; shift
  "$@" >"$DIR/log/$name.log" 2>&1 </dev/null &
  echo "$name $!" >>"$DIR/pids"
}

wait_for() { # wait_for WHAT SECONDS CMD...
  local what=$1 secs=$2; shift 2
  local end=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $end ]; then
      log "$what not ready after ${secs}s; last log lines:"
      local f; for f in "$DIR"/log/*.log; do echo "== $f" >&2; tail -n 15 "$f" >&2; done
      return 1
    fi
    if ! running_all; then
      log "a process exited while waiting for $what; last log lines:"
      local f; for f in "$DIR"/log/*.log; do echo "== $f" >&2; tail -n 15 "$f" >&2; done
      return 1
    fi
    sleep 0.2
  done
}

running_all() {
  local name pid
  while read -r name pid; do
    kill -0 "$pid" 2>/dev/null || { log "$name (pid $pid) exited"; return 1; }
  done <"$DIR/pids"
}

healthz() { curl -skf --max-time 2 "https://127.0.0.1:$1/healthz"; }

add_nodes() { # add_nodes a,b,c
  local list=$1 n
  local IFS=,
  for n in $list; do
    [ -n "$n" ] || continue
    # Labels as a kubelet would set them; the local PVs pin kubernetes.io/hostname.
    kc apply --server-side --field-manager=control-plane -f - >/dev/null <<EOF
apiVersion: v1
kind: Node
metadata:
  name: $n
  labels:
    kubernetes.io/hostname: $n
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    node.kubernetes.io/instance-type: fake
    topology.kubernetes.io/zone: zone-a
EOF
    local now; now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
    kc patch node "$n" --subresource=status --type=merge -p "{\"status\":{
      \"capacity\":{\"cpu\":\"64\",\"memory\":\"256Gi\",\"pods\":\"500\",\"ephemeral-storage\":\"1Ti\"},
      \"allocatable\":{\"cpu\":\"64\",\"memory\":\"256Gi\",\"pods\":\"500\",\"ephemeral-storage\":\"1Ti\"},
      \"conditions\":[{\"type\":\"Ready\",\"status\":\"True\",\"reason\":\"KubeletReady\",\"message\":\"fake node (no kubelet)\",\"lastHeartbeatTime\":\"$now\",\"lastTransitionTime\":\"$now\"}],
      \"nodeInfo\":{\"architecture\":\"amd64\",\"operatingSystem\":\"linux\",\"kubeletVersion\":\"v1.33.5\",\"containerRuntimeVersion\":\"fake://0\",\"kernelVersion\":\"\",\"osImage\":\"\",\"kubeProxyVersion\":\"\",\"machineID\":\"\",\"systemUUID\":\"\",\"bootID\":\"\"}}}" >/dev/null
  done
}

cmd_up() {
  local nodes=node-a,node-b,node-c
  while [ $# -gt 0 ]; do
    case $1 in
      --nodes) nodes=${2:?--nodes needs a list}; shift 2 ;;
      --nodes=*) nodes=${1#--nodes=}; shift ;;
      *) usage ;;
    esac
  done
  local b
  for b in etcd kube-apiserver kube-controller-manager kube-scheduler kubectl; do
    [ -x "$BIN/$b" ] || die "$BIN/$b is missing: run scripts/real-components.sh"
  done
  command -v openssl >/dev/null || die "openssl is required (service-account key)"
  command -v curl >/dev/null || die "curl is required (health checks)"
  if running; then die "$DIR is already running (scripts/control-plane.sh down first)"; fi
  if [ -e "$DIR" ] && [ ! -f "$MARKER" ] && [ -n "$(ls -A "$DIR" 2>/dev/null)" ]; then
    die "$DIR exists and is not a control-plane directory; set STACKGEN_CP_DIR"
  fi
  rm -rf "$DIR/etcd" "$DIR/log" "$DIR/pids"
  mkdir -p "$DIR/log" "$DIR/certs"
  touch "$MARKER"
  : >"$DIR/pids"
  local t0=$SECONDS
  local etcd_client etcd_peer api kcm sched
  etcd_client=$(free_port); etcd_peer=$(free_port); api=$(free_port); kcm=$(free_port); sched=$(free_port)
  printf 'etcd-client %s\netcd-peer %s\nkube-apiserver %s\nkube-controller-manager %s\nkube-scheduler %s\n' \
    "$etcd_client" "$etcd_peer" "$api" "$kcm" "$sched" >"$DIR/ports"

  [ -f "$DIR/certs/sa.key" ] || openssl genrsa -out "$DIR/certs/sa.key" 2048 2>/dev/null
  # A client CA and an admin client certificate (system:masters), for clients that take a
  # certificate rather than a kubeconfig (the Prometheus Operator: --apiserver,
  # --cert-file, --key-file, --tls-insecure). Anonymous requests are refused.
  if [ ! -f "$DIR/certs/admin.crt" ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$DIR/certs/ca.key" -out "$DIR/certs/ca.crt" \
      -days 7 -subj "/CN=stackgen-control-plane-ca" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout "$DIR/certs/admin.key" -out "$DIR/certs/admin.csr" \
      -subj "/O=system:masters/CN=admin" 2>/dev/null
    openssl x509 -req -in "$DIR/certs/admin.csr" -CA "$DIR/certs/ca.crt" -CAkey "$DIR/certs/ca.key" \
      -CAcreateserial -out "$DIR/certs/admin.crt" -days 7 2>/dev/null
  fi
  local token; token=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
  echo "$token,admin,admin,system:masters" >"$DIR/tokens.csv"
  chmod 600 "$DIR/tokens.csv" "$DIR"/certs/*.key
  umask 077
  cat >"$KUBECONFIG_FILE" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: stackgen
  cluster:
    server: https://127.0.0.1:$api
    insecure-skip-tls-verify: true
users:
- name: admin
  user:
    token: $token
contexts:
- name: stackgen
  context: {cluster: stackgen, user: admin}
current-context: stackgen
EOF
  umask 022

  start etcd "$BIN/etcd" --name stackgen --data-dir "$DIR/etcd" \
    --listen-client-urls "http://127.0.0.1:$etcd_client" --advertise-client-urls "http://127.0.0.1:$etcd_client" \
    --listen-peer-urls "http://127.0.0.1:$etcd_peer" --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer" \
    --initial-cluster "stackgen=http://127.0.0.1:$etcd_peer" \
    --unsafe-no-fsync --quota-backend-bytes 4294967296 --log-level warn
  wait_for etcd 20 curl -sf --max-time 2 "http://127.0.0.1:$etcd_client/health"

  # TaintNodesByCondition off: hand-made nodes are not born with the not-ready taint.
  start kube-apiserver "$BIN/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$etcd_client" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$api" \
    --cert-dir "$DIR/certs" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$DIR/certs/sa.key" --service-account-signing-key-file "$DIR/certs/sa.key" \
    --service-cluster-ip-range 10.96.0.0/16 \
    --authorization-mode AlwaysAllow --token-auth-file "$DIR/tokens.csv" \
    --client-ca-file "$DIR/certs/ca.crt" \
    --endpoint-reconciler-type none \
    --disable-admission-plugins TaintNodesByCondition \
    --profiling=false --v 0
  wait_for kube-apiserver 60 kc get --raw /readyz

  start kube-controller-manager "$BIN/kube-controller-manager" \
    --kubeconfig "$KUBECONFIG_FILE" \
    --authentication-kubeconfig "$KUBECONFIG_FILE" --authorization-kubeconfig "$KUBECONFIG_FILE" \
    --bind-address 127.0.0.1 --secure-port "$kcm" \
    --controllers '*,-node-lifecycle-controller' --leader-elect=false \
    --use-service-account-credentials=false \
    --service-account-private-key-file "$DIR/certs/sa.key" \
    --concurrent-statefulset-syncs 10 --kube-api-qps 200 --kube-api-burst 400 \
    --profiling=false --v 0
  start kube-scheduler "$BIN/kube-scheduler" \
    --kubeconfig "$KUBECONFIG_FILE" \
    --authentication-kubeconfig "$KUBECONFIG_FILE" --authorization-kubeconfig "$KUBECONFIG_FILE" \
    --bind-address 127.0.0.1 --secure-port "$sched" \
    --leader-elect=false --kube-api-qps 200 --kube-api-burst 400 \
    --profiling=false --v 0
  add_nodes "$nodes"
  wait_for kube-controller-manager 60 healthz "$kcm"
  wait_for kube-scheduler 60 healthz "$sched"
  # The namespace controller and the service-account controller are up once `default`
  # has its ServiceAccount.
  wait_for "default ServiceAccount" 60 kc get serviceaccount default -n default
  log "up in $((SECONDS - t0))s: API https://127.0.0.1:$api, nodes $nodes, state $DIR"
  log "use: export KUBECONFIG=$KUBECONFIG_FILE; stop: STACKGEN_CP_DIR=$DIR $0 down"
  echo "$KUBECONFIG_FILE"
}

cmd_down() {
  [ -f "$DIR/pids" ] || { log "nothing to stop in $DIR"; [ -f "$MARKER" ] && rm -rf "$DIR"; return 0; }
  local name pid pids=()
  # Reverse start order: scheduler and controllers first, etcd last.
  while read -r name pid; do pids=("$pid" "${pids[@]}"); done <"$DIR/pids"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  local end=$((SECONDS + 10)) alive
  while :; do
    alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && break
    if [ $SECONDS -ge $end ]; then
      for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
      sleep 0.2
      break
    fi
    sleep 0.1
  done
  [ -f "$MARKER" ] && rm -rf "$DIR"
  log "down: stopped ${#pids[@]} processes, removed $DIR"
}

case ${1:-} in
  up) shift; cmd_up "$@" ;;
  down) shift; cmd_down ;;
  nodes) shift; [ $# -eq 1 ] || usage; running || die "not running ($DIR)"; add_nodes "$1"; log "nodes: $1" ;;
  env) echo "export KUBECONFIG=$KUBECONFIG_FILE" ;;
  *) usage ;;
esac
