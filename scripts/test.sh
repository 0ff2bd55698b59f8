#!/usr/bin/env bash
# Installs what Tide's tests need on a fresh Debian machine, then builds and runs them.
# Usage: scripts/test.sh [extra `swift test` arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v swift >/dev/null || { echo "error: the Swift 6 toolchain (swift) is not on PATH" >&2; exit 1; }
# The scaler's integration test runs a real Prometheus (Debian's package).
[ -x /usr/bin/prometheus ] || need+=(prometheus)
# kubectl: the install tests apply crds/ and config/ with it, as users do.
command -v kubectl >/dev/null || need+=(kubernetes-client)
# The real control plane's harness makes certificates and probes health endpoints.
command -v openssl >/dev/null || need+=(openssl)
command -v curl >/dev/null || need+=(curl)
command -v xz >/dev/null || need+=(xz-utils)
# Kubeconfigs are read with libyaml (a system library the build links).
[ -f /usr/include/yaml.h ] || need+=(libyaml-dev)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}"
  else
    echo "error: missing packages: ${need[*]} (install them with apt-get)" >&2
    exit 1
  fi
fi

export TIDE_REQUIRE_PROMETHEUS=1
swift build --build-tests
work=$(mktemp -d)
log="$work/test.log"
trap 'scripts/envtest.sh down "$work/envtest" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

# The image's build step, run as the Dockerfile runs it (debug here, to reuse the build).
scripts/build-image-binaries.sh "$work/image" --configuration debug
# Tests that run a command as the image ships it (kubectl-tide, linked to the operator's binary).
export TIDE_IMAGE_BINARIES="$work/image"

# The real-cluster tier: upstream kube-apiserver, etcd and kube-controller-manager,
# started once for the whole run and stopped (by PID) on exit. Without the binaries
# (KUBEBUILDER_ASSETS, or the envtest archive beside the repository) the tier is
# skipped with one line; with them, a control plane that does not start fails the run.
set +e
scripts/envtest.sh assets >/dev/null 2>"$work/assets.err"
assets=$?
set -e
if [ "$assets" = 0 ]; then
  scripts/envtest.sh up "$work/envtest" --owner $$
  set -a
  # shellcheck disable=SC1091
  . "$work/envtest/env"
  set +a
elif [ "$assets" = 3 ]; then
  cat "$work/assets.err"
else
  cat "$work/assets.err" >&2
  exit 1
fi
set +e
# One test at a time: several suites run real servers and processes with timing
# expectations (leader election, Prometheus, the local run); on a 2-core machine
# running them side by side starves them.
swift test --skip-build --no-parallel "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One plain summary line, whatever the test library printed.
passed=$( (grep -Eo 'Test run with [0-9]+ tests? .* passed' "$log" || true) | grep -Eo '[0-9]+' | head -1 || true)
failed=$( (grep -Eo 'Test run with [0-9]+ tests? .* failed .*' "$log" || true) | head -1)
if [ "$status" = 0 ] && [ -n "$passed" ]; then
  echo "tests: $passed passed, 0 failed"
else
  echo "tests: failed (swift test exit $status) ${failed}"
  [ "$status" = 0 ] && status=1
fi
exit "$status"
