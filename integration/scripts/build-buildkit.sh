#!/usr/bin/env bash
# Builds buildkitd and buildctl at the buildkit version pinned in go.mod, from inside this module
# (see integration/tools/tools.go), into a cache directory keyed by that version, and prints the
# directory. A second run on the same machine reuses the binaries.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
version=$(go list -m -f '{{.Version}}' github.com/moby/buildkit)
cache=${SAFEBUILD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/safebuild}
dir="$cache/buildkit-$version"
if [ -x "$dir/buildkitd" ] && [ -x "$dir/buildctl" ]; then
  echo "$dir"
  exit 0
fi
mkdir -p "$dir"
echo "building buildkitd and buildctl $version into $dir (about 15 minutes the first time on 2 cores)" >&2
tmp=$(mktemp -d "$dir/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$tmp/" \
  github.com/moby/buildkit/cmd/buildkitd github.com/moby/buildkit/cmd/buildctl >&2
mv "$tmp/buildkitd" "$tmp/buildctl" "$dir/"
echo "$dir"
