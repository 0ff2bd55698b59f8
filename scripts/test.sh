#!/usr/bin/env bash
# Installs what Tide's tests need on a fresh Debian machine, then builds and runs them.
# Usage: scripts/test.sh [extra `swift test` arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v swift >/dev/null || { echo "error: the Swift 6 toolchain (swift) is not on PATH" >&2; exit 1; }
# The scaler's integration test runs a real Prometheus (Debian's package).
[ -x /usr/bin/prometheus ] || need+=(prometheus)
# kubectl is optional: the kubectl compatibility test runs only when it is installed.
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
log=$(mktemp)
trap 'rm -f "$log"' EXIT
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
