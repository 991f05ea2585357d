#!/usr/bin/env bash
# Builds HashiCorp Vault from its Go module (the separate tools module integration/tools/vault, so
# Vault's graph stays out of safebuild's go.mod) into a cache directory keyed by the version, and
# prints the directory. v1.21.0 compiles unpatched as a dependency; v1.21.4 does not.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
src="$root/integration/tools/vault"
version=$(sed -n 's/^require github.com\/hashicorp\/vault \(v[^ ]*\)$/\1/p' "$src/go.mod")
[ -n "$version" ] || { echo "build-vault: no 'require github.com/hashicorp/vault vX' line in $src/go.mod" >&2; exit 1; }
cache=${SAFEBUILD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/safebuild}
dir="$cache/vault-$version"
if [ -x "$dir/vault" ]; then
  echo "$dir"
  exit 0
fi
mkdir -p "$dir"
echo "building vault $version into $dir (about 15 minutes the first time on 2 cores)" >&2
work=$(mktemp -d "$dir/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT
# Work on a copy: tidy writes go.mod/go.sum, and the checkout stays untouched.
cp "$src/main.go" "$src/go.mod" "$work/"
cd "$work"
GOFLAGS=-mod=mod go mod tidy -e >&2
CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$work/vault" . >&2
mv "$work/vault" "$dir/vault"
echo "$dir"
