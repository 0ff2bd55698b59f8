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

# In release, the scaler (a short Job that waits on the network) is built for size:
# -Osize and identical code folded, in its own build folder so the operator and
# hello-service keep -O. Debug builds share one folder (what the tests run).
# Static builds get their own folders too, so they do not undo a dynamic release build
# (benchmarks) in .build.
flags_for() {
  if [ "$configuration" = release ] && [ "$1" = tide-scaler ]; then
    echo "--scratch-path .build/size -Xswiftc -Osize -Xlinker --icf=safe"
  elif [ ${#static[@]} -gt 0 ]; then
    echo "--scratch-path .build/static"
  fi
}

# One `swift build --product` builds one product: build each.
mkdir -p "$out"
for binary in "${binaries[@]}"; do
  # shellcheck disable=SC2046
  swift build -c "$configuration" ${static[@]+"${static[@]}"} $(flags_for "$binary") --product "$binary"
  # shellcheck disable=SC2046
  bin=$(swift build -c "$configuration" ${static[@]+"${static[@]}"} $(flags_for "$binary") --show-bin-path)
  [ -x "$bin/$binary" ] || { echo "error: $binary was not built (looked in $bin)" >&2; exit 1; }
  cp "$bin/$binary" "$out/$binary"
  # What ships carries no symbol tables or debug info.
  if [ "$configuration" = release ]; then strip "$out/$binary"; fi
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
printf '%-14s | %10s\n' binary MB
printf '%-14s-|-%10s\n' -------------- ----------
total=0
for binary in "${binaries[@]}"; do
  size=$(stat -c %s "$out/$binary")
  total=$((total + size))
  printf '%-14s | %10.1f\n' "$binary" "$(awk -v b="$size" 'BEGIN { print b / 1000000 }')"
done
printf '%-14s | %10.1f\n' together "$(awk -v b="$total" 'BEGIN { print b / 1000000 }')"
echo "image binaries in $out (configuration $configuration${static[*]:+, static})"
