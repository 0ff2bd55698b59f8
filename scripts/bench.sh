#!/usr/bin/env bash
# Builds the benchmarks in release mode and prints their tables.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = --adapter ]; then
  # The metrics adapter behind a real kube-apiserver's aggregator (needs the envtest
  # binaries), run from the image's binary.
  shift
  for product in hello-service operator-bench; do swift build -c release --product "$product"; done
  scripts/build-image-binaries.sh .build/image --configuration release --static
  exec .build/release/operator-bench --adapter --image-binaries .build/image "$@"
fi
if [ "${1:-}" = --metrics-endpoint ]; then
  # What secure /metrics costs against plain HTTP, with local-kube reviewing the tokens.
  shift
  for product in local-kube tide-operator operator-bench; do swift build -c release --product "$product"; done
  exec .build/release/operator-bench --metrics-endpoint "$@"
fi
if [ "${1:-}" = --real ]; then
  # The operator against a real control plane only (needs the envtest binaries).
  shift
  for product in tide-operator tide-scaler hello-service operator-bench peak-rss; do swift build -c release --product "$product"; done
  # The binaries as the image ships them, to size and to run one scaler decision from.
  scripts/build-image-binaries.sh .build/image --configuration release --static
  exec .build/release/operator-bench --real --image-binaries .build/image "$@"
fi
swift build -c release --product kube-bench
.build/release/kube-bench "$@"
swift build -c release --product local-kube
swift build -c release --product tide-operator
swift build -c release --product operator-bench
.build/release/operator-bench
swift build -c release --product hello-service
swift build -c release --product tide-scaler
swift build -c release --product peak-rss
swift build -c release --product scaler-bench
.build/release/scaler-bench
