#!/usr/bin/env bash
# A real Kubernetes control plane on loopback for Tide's real-cluster tests:
# upstream etcd, kube-apiserver and kube-controller-manager (the envtest assets).
#
#   scripts/envtest.sh up DIR [--owner PID]   start all three; write DIR/env and DIR/kubeconfig
#   scripts/envtest.sh down DIR               stop what `up DIR` started (by PID)
#   scripts/envtest.sh assets                 print the folder holding the binaries
#
# The binaries come from $KUBEBUILDER_ASSETS (kubebuilder's convention: a folder with
# etcd, kube-apiserver and kube-controller-manager), or else from the envtest archive
# beside the repository (../shared/envtest), unpacked once into a cache folder.
# Without either, `up` and `assets` exit 3 with one line saying how to get them.
#
# The API server runs with RBAC, OwnerReferencesPermissionEnforcement and the
# aggregation layer (front-proxy CA); the admin user is a client certificate in
# group system:masters. With --owner, a watchdog stops everything once that
# process is gone, so a test run that is killed leaves nothing behind.
set -euo pipefail
# Close every descriptor inherited beyond stdin, stdout and stderr (bash's own script
# descriptor, 255, stays): the control plane and the watchdog outlive this script, and
# a descriptor they kept open would make the caller wait for them (a process launcher
# that watches a socket for its child's exit would wait forever).
for fd in /proc/$$/fd/*; do
  fd=${fd##*/}
  if [ "$fd" -gt 2 ] && [ "$fd" -ne 255 ]; then eval "exec $fd>&-" 2>/dev/null || true; fi
done
root="$(cd "$(dirname "$0")/.." && pwd)"
version=1.28.7
names=(etcd kube-apiserver kube-controller-manager)

die() { echo "envtest: $*" >&2; exit 1; }

assets() {
  if [ -n "${KUBEBUILDER_ASSETS:-}" ]; then
    for name in "${names[@]}"; do
      [ -x "$KUBEBUILDER_ASSETS/$name" ] || die "KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS has no executable $name"
    done
    echo "$KUBEBUILDER_ASSETS"
    return
  fi
  local archive_dir="$root/../shared/envtest"
  local archive="$archive_dir/kube-$version-linux-amd64.tar.xz"
  if [ ! -f "$archive" ]; then
    echo "envtest: no control-plane binaries: set KUBEBUILDER_ASSETS to a folder with etcd, kube-apiserver and kube-controller-manager $version (e.g. from 'setup-envtest use $version -p path')" >&2
    exit 3
  fi
  local cache="${TIDE_ENVTEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tide/envtest-$version}"
  if [ ! -x "$cache/bin/kube-controller-manager" ] || [ ! -f "$cache/.verified" ]; then
    mkdir -p "$cache"
    if [ -f "$archive_dir/SHA256SUMS" ]; then
      (cd "$archive_dir" && grep " kube-$version-linux-amd64.tar.xz\$" SHA256SUMS | sha256sum -c --quiet -) \
        || die "checksum of $archive does not match SHA256SUMS"
    fi
    tar -xJf "$archive" -C "$cache"
    touch "$cache/.verified"
  fi
  echo "$cache/bin"
}

# A port nothing listens on right now (connect is refused).
free_port() {
  local port
  for _ in $(seq 1 50); do
    port=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "$port"; return; fi
  done
  die "no free loopback port found"
}

certificates() {
  local d=$1
  local ossl=(openssl)
  "${ossl[@]}" req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=tide-envtest-ca" \
    -keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null
  "${ossl[@]}" req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=tide-envtest-front-proxy-ca" \
    -keyout "$d/front-proxy-ca.key" -out "$d/front-proxy-ca.crt" 2>/dev/null
  sign() { # name subject ca extensions
    "${ossl[@]}" req -newkey rsa:2048 -nodes -subj "$2" -keyout "$d/$1.key" -out "$d/$1.csr" 2>/dev/null
    printf '%s\n' "$4" > "$d/$1.ext"
    "${ossl[@]}" x509 -req -in "$d/$1.csr" -CA "$d/$3.crt" -CAkey "$d/$3.key" -CAcreateserial -days 2 \
      -extfile "$d/$1.ext" -out "$d/$1.crt" 2>/dev/null
    rm -f "$d/$1.csr" "$d/$1.ext"
  }
  sign apiserver "/CN=kube-apiserver" ca \
    "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,IP:127.64.0.1
extendedKeyUsage=serverAuth"
  sign admin "/O=system:masters/CN=tide-envtest-admin" ca "extendedKeyUsage=clientAuth"
  sign front-proxy-client "/CN=front-proxy-client" front-proxy-ca "extendedKeyUsage=clientAuth"
  "${ossl[@]}" genrsa -out "$d/sa.key" 2048 2>/dev/null
  "${ossl[@]}" rsa -in "$d/sa.key" -pubout -out "$d/sa.pub" 2>/dev/null
}

wait_for() { # what url seconds [curl args...]
  local what=$1 url=$2 seconds=$3; shift 3
  local deadline=$((SECONDS + seconds))
  while [ $SECONDS -lt $deadline ]; do
    if curl -fsS --max-time 2 "$@" "$url" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  return 1
}

stop_all() {
  local d=$1
  [ -f "$d/pids" ] || return 0
  local pids
  pids=$(tac "$d/pids")
  for pid in $pids; do kill "$pid" 2>/dev/null || true; done
  for _ in $(seq 1 50); do
    local alive=0
    for pid in $pids; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && break
    sleep 0.1
  done
  for pid in $pids; do kill -9 "$pid" 2>/dev/null || true; done
  rm -f "$d/pids"
}

up() {
  local d=$1 owner=${2:-}
  local bin
  bin=$(assets)
  mkdir -p "$d"
  d="$(cd "$d" && pwd)"
  stop_all "$d"
  rm -rf "$d/etcd-data" "$d"/*.log
  : > "$d/pids"
  certificates "$d"
  local etcd_port peer_port api_port kcm_port
  etcd_port=$(free_port); peer_port=$(free_port); api_port=$(free_port); kcm_port=$(free_port)
  trap 'stop_all "$d"' ERR

  "$bin/etcd" --data-dir "$d/etcd-data" --name envtest \
    --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
    --initial-cluster "envtest=http://127.0.0.1:$peer_port" --unsafe-no-fsync --log-level warn \
    >"$d/etcd.log" 2>&1 &
  echo $! >> "$d/pids"
  wait_for etcd "http://127.0.0.1:$etcd_port/health" 30 || { tail -5 "$d/etcd.log" >&2; stop_all "$d"; die "etcd did not become healthy (log: $d/etcd.log)"; }

  # Service ClusterIPs are allocated on loopback (127.64.0.0/16): the aggregator dials
  # an APIService's Service at its ClusterIP, and with no kube-proxy here that address
  # must be one a local process can listen on (Endpoints refuse loopback addresses).
  "$bin/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$etcd_port" \
    --secure-port "$api_port" --bind-address 127.0.0.1 --advertise-address 127.0.0.1 \
    --tls-cert-file "$d/apiserver.crt" --tls-private-key-file "$d/apiserver.key" \
    --client-ca-file "$d/ca.crt" \
    --service-account-key-file "$d/sa.pub" --service-account-signing-key-file "$d/sa.key" \
    --service-account-issuer https://kubernetes.default.svc \
    --authorization-mode RBAC \
    --enable-admission-plugins OwnerReferencesPermissionEnforcement \
    --service-cluster-ip-range 127.64.0.0/16 \
    --endpoint-reconciler-type none \
    --requestheader-client-ca-file "$d/front-proxy-ca.crt" \
    --requestheader-allowed-names front-proxy-client \
    --requestheader-username-headers X-Remote-User \
    --requestheader-group-headers X-Remote-Group \
    --requestheader-extra-headers-prefix X-Remote-Extra- \
    --proxy-client-cert-file "$d/front-proxy-client.crt" --proxy-client-key-file "$d/front-proxy-client.key" \
    --v 1 \
    >"$d/kube-apiserver.log" 2>&1 &
  echo $! >> "$d/pids"
  local server="https://127.0.0.1:$api_port"
  wait_for kube-apiserver "$server/readyz" 90 --cacert "$d/ca.crt" --cert "$d/admin.crt" --key "$d/admin.key" \
    || { tail -20 "$d/kube-apiserver.log" >&2; stop_all "$d"; die "kube-apiserver did not become ready (log: $d/kube-apiserver.log)"; }

  cat > "$d/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: envtest
  cluster:
    server: $server
    certificate-authority: $d/ca.crt
users:
- name: admin
  user:
    client-certificate: $d/admin.crt
    client-key: $d/admin.key
contexts:
- name: envtest
  context: {cluster: envtest, user: admin}
current-context: envtest
EOF

  # No node lifecycle: tests stand in for a kubelet on a Node that sends no
  # heartbeats, and its Pods must not be evicted from it.
  "$bin/kube-controller-manager" \
    --kubeconfig "$d/kubeconfig" --authentication-kubeconfig "$d/kubeconfig" --authorization-kubeconfig "$d/kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "$kcm_port" --controllers '*,-nodelifecycle' --leader-elect=false \
    --service-account-private-key-file "$d/sa.key" --root-ca-file "$d/ca.crt" \
    --cluster-signing-cert-file "$d/ca.crt" --cluster-signing-key-file "$d/ca.key" \
    --service-cluster-ip-range 127.64.0.0/16 \
    --horizontal-pod-autoscaler-sync-period 5s \
    --v 1 \
    >"$d/kube-controller-manager.log" 2>&1 &
  echo $! >> "$d/pids"
  wait_for kube-controller-manager "https://127.0.0.1:$kcm_port/healthz" 60 -k \
    || { tail -20 "$d/kube-controller-manager.log" >&2; stop_all "$d"; die "kube-controller-manager did not become healthy (log: $d/kube-controller-manager.log)"; }

  cat > "$d/env" <<EOF
TIDE_ENVTEST_DIR=$d
TIDE_ENVTEST_KUBECONFIG=$d/kubeconfig
TIDE_ENVTEST_SERVER=$server
TIDE_ENVTEST_ETCD=http://127.0.0.1:$etcd_port
EOF
  trap - ERR
  if [ -n "$owner" ]; then
    # The watchdog: stops the control plane once the owner is gone.
    ( trap '' HUP; while kill -0 "$owner" 2>/dev/null && [ -f "$d/pids" ]; do sleep 1; done; stop_all "$d" ) \
      </dev/null >/dev/null 2>&1 &
    disown
  fi
  echo "envtest: kube-apiserver $version at $server (kubeconfig $d/kubeconfig)"
}

case "${1:-}" in
  up) [ $# -ge 2 ] || die "usage: envtest.sh up DIR [--owner PID]"
      dir=$2; owner=""; [ "${3:-}" = --owner ] && owner=${4:-}
      up "$dir" "$owner" ;;
  down) [ $# -ge 2 ] || die "usage: envtest.sh down DIR"; stop_all "$2" ;;
  assets) assets ;;
  *) die "usage: envtest.sh up DIR [--owner PID] | down DIR | assets" ;;
esac
