#!/usr/bin/env bash
# Builds tools/ygg-go-peer (our test harness around the yggdrasil-go library) into .tools/bin/ygg-go-peer.
# Skips (exit 0) when Go is missing; skips the build when the binary matches the sources' stamp.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
src="$root/tools/ygg-go-peer"
bin="$root/.tools/bin/ygg-go-peer"
stamp="$bin.stamp"

if ! command -v go >/dev/null 2>&1; then
  echo 'SKIP: go not found; Go interop tests will be skipped'
  exit 0
fi

want="$(cd "$src" && cat go.mod go.sum main.go | sha256sum | cut -d' ' -f1)"
if [[ -x "$bin" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  echo "ygg-go-peer up to date: $bin"
  exit 0
fi

mkdir -p "$(dirname "$bin")"
echo "building ygg-go-peer with $(go version) ..."
start=$SECONDS
if ! (cd "$src" && go build -buildvcs=false -trimpath -o ../../.tools/bin/ygg-go-peer .); then
  # A machine whose Go cannot fetch the yggdrasil-go module: the interop tests then skip, each saying why.
  rm -f "$bin" "$stamp"
  echo 'SKIP: building ygg-go-peer failed (see above); Go interop tests will be skipped'
  exit 0
fi
echo "$want" > "$stamp"
echo "built $bin in $((SECONDS - start)) s ($("$bin" -version | sed 's/^/yggdrasil-go /'))"
