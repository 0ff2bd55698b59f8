#!/usr/bin/env bash
# Builds the binaries Tide's image ships into one folder: tide-operator (which also
# runs as tide-metrics-adapter and hello-service, linked to it by those names) and
# tide-scaler; and checks each command: present, executable, answers --help as itself.
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
binaries=(tide-operator tide-scaler)
# Names the operator's binary answers to, and a word its --help must show.
linked=(tide-metrics-adapter hello-service kubectl-tide)
help_word() { case "$1" in tide-metrics-adapter) echo external.metrics.k8s.io ;; hello-service) echo greeting ;; kubectl-tide) echo autoscaler ;; esac; }

# In release, the scaler (a short Job that waits on the network) is built for size:
# -Osize, whole-program link-time optimisation (drops code no call reaches across
# modules: about 0.9 MB) and identical code folded, in its own build folder so the
# operator keeps -O. Its first build takes about 11 minutes on 2 cores. Debug builds share one folder (what the tests run).
# Static builds get their own folders too, so they do not undo a dynamic release build
# (benchmarks) in .build.
# Release binaries export no dynamic symbols (--no-export-dynamic): nothing loads
# them, and the dynamic loader no longer reads a symbol table of 50,000 names at
# start (the operator: 5 MB smaller on disk, 2 MB less resident memory idle).
flags_for() {
  local link=""
  if [ "$configuration" = release ]; then link="-Xlinker --no-export-dynamic"; fi
  if [ "$configuration" = release ] && [ "$1" = tide-scaler ]; then
    echo "--scratch-path .build/size-lto -Xswiftc -Osize -Xlinker --icf=safe --experimental-lto-mode=full $link"
  elif [ ${#static[@]} -gt 0 ]; then
    echo "--scratch-path .build/static $link"
  else
    echo "$link"
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
# The metrics adapter and hello-service run from the operator's binary: they share
# nearly all its code, and copies of their own would cost about as much again.
for name in "${linked[@]}"; do
  ln -sf tide-operator "$out/$name"
  "$out/$name" --help 2>&1 | grep -qi "$(help_word "$name")" \
    || { echo "error: $out/$name does not start $name" >&2; exit 1; }
done
commands=("${binaries[@]}" "${linked[@]}")
# Every command the manifests and the operator name must be one of them.
named=$( (grep -rhoE 'command: \[[a-z-]+\]' config || true; grep -hoE 'command: \["[a-z-]+"\]' Sources/TideOperator/Children.swift || true) \
  | grep -oE '[a-z]+(-[a-z]+)+' | sort -u)
for command in $named; do
  [[ " ${commands[*]} " == *" $command "* ]] || { echo "error: the manifests run $command, which the image does not hold" >&2; exit 1; }
done
# Every binary must be in the folder and start.
for binary in "${commands[@]}"; do
  [ -x "$out/$binary" ] || { echo "error: $out/$binary is missing" >&2; exit 1; }
  "$out/$binary" --help >/dev/null 2>&1 || { echo "error: $out/$binary --help failed" >&2; exit 1; }
done
printf '%-20s | %17s\n' binary MB
printf '%-20s-|-%17s\n' -------------------- -----------------
total=0
for binary in "${binaries[@]}"; do
  size=$(stat -c %s "$out/$binary")
  total=$((total + size))
  printf '%-20s | %17.1f\n' "$binary" "$(awk -v b="$size" 'BEGIN { print b / 1000000 }')"
done
for name in "${linked[@]}"; do printf '%-20s | %17s\n' "$name" "(→ tide-operator)"; done
printf '%-20s | %17.1f\n' together "$(awk -v b="$total" 'BEGIN { print b / 1000000 }')"
echo "image binaries in $out (configuration $configuration${static[*]:+, static})"
