#!/usr/bin/env bash
# The whole Tide loop on this machine, in one command: LocalKube, the operator, real
# hello-service processes, a real Prometheus, load and the scaler. Prints a live
# timeline, then writes tide-local-run/tide-local-run.svg and a summary.
# Usage: scripts/local.sh [--profile standard|short|name:seconds:from-to,...] [--scaler-every 5] [...]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x /usr/bin/prometheus ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus
  else
    echo "error: Prometheus is missing; install it with: sudo apt-get install -y --no-install-recommends prometheus" >&2
    exit 2
  fi
fi
swift build -c release --product hello-service
swift build -c release --product tide-scaler
swift build -c release --product tide-local
exec .build/release/tide-local "$@"
