#!/usr/bin/env bash
# Builds and starts LocalKube, Tide's in-memory Kubernetes API server, applying the
# Application CRD when it exists. Prints how to point kubectl at it; Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product local-kube
args=()
[ -d crds ] && args+=(--apply crds)
exec .build/release/local-kube "${args[@]}" "$@"
