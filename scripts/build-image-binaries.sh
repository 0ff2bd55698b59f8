#!/usr/bin/env bash
# Builds the binaries Tide's image ships (tide-operator, tide-scaler, hello-service)
# into one folder and checks each of them: present, executable, answers --help.
# The Dockerfile runs exactly this; the tests run it too (in debug), so a broken
# image step fails a test instead of an operator pod.
#
#   scripts/build-image-binaries.sh OUT [--configuration release|debug] [--static]
set -euo pipefail
cd "$(dirname "$0")/.."

out=${1:?usage: build-image-binaries.sh OUT [--configuration release|debug] [--static]}
shift
configuration=release
static=()
while [ $# -gt 0 ]; do
  case "$1" in
    --configuration) configuration=${2:?--configuration needs release or debug}; shift 2 ;;
    --static) static=(--static-swift-stdlib); shift ;;
    *) echo "error: unknown option $1" >&2; exit 2 ;;
  esac
done
binaries=(tide-operator tide-scaler hello-service)

# One `swift build --product` builds one product: build each.
for binary in "${binaries[@]}"; do
  swift build -c "$configuration" ${static[@]+"${static[@]}"} --product "$binary"
done
bin=$(swift build -c "$configuration" ${static[@]+"${static[@]}"} --show-bin-path)
mkdir -p "$out"
for binary in "${binaries[@]}"; do
  [ -x "$bin/$binary" ] || { echo "error: $binary was not built (looked in $bin)" >&2; exit 1; }
  cp "$bin/$binary" "$out/$binary"
done
# Every command the manifests and the operator name must be one of them.
named=$( (grep -rhoE 'command: \[[a-z-]+\]' config || true; grep -hoE 'command: \["[a-z-]+"\]' Sources/TideOperator/Children.swift || true) \
  | grep -oE '[a-z]+(-[a-z]+)+' | sort -u)
for command in $named; do
  [[ " ${binaries[*]} " == *" $command "* ]] || { echo "error: the manifests run $command, which the image does not hold" >&2; exit 1; }
done
# Every binary must be in the folder and start.
for binary in "${binaries[@]}"; do
  [ -x "$out/$binary" ] || { echo "error: $out/$binary is missing" >&2; exit 1; }
  "$out/$binary" --help >/dev/null 2>&1 || { echo "error: $out/$binary --help failed" >&2; exit 1; }
done
echo "image binaries in $out: ${binaries[*]} ($(du -sh "$out" | cut -f1))"
