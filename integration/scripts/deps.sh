#!/usr/bin/env bash
# Installs everything the integration stack needs on a Debian 12 machine, as root: Debian's runc,
# distribution registry, static busybox, containerd, and for the git server openssh-server, git
# and libnss-wrapper; then buildkitd/buildctl and Vault compiled from their Go modules into a
# cache keyed by version (only the first run compiles them).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)

if [ "$(id -u)" != 0 ]; then
  echo "deps: must run as root (apt-get, and buildkitd runs containers with runc)" >&2
  exit 1
fi
command -v go >/dev/null || { echo "deps: go not found on PATH (safebuild needs Go $(sed -n 's/^go //p' "$root/go.mod"))" >&2; exit 1; }

need=()
command -v runc >/dev/null || [ -x /usr/sbin/runc ] || need+=(runc)
command -v docker-registry >/dev/null || need+=(docker-registry)
command -v containerd >/dev/null || need+=(containerd)
# The stack's git server: sshd (run by the harness with its own config), git behind it, and
# nss_wrapper so that its "git" login exists for that sshd only (no system user is added).
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v git >/dev/null || need+=(git)
ls /usr/lib/*/libnss_wrapper.so >/dev/null 2>&1 || need+=(libnss-wrapper)
if ! { [ -x /usr/bin/busybox ] && ! readelf -l /usr/bin/busybox 2>/dev/null | grep -q 'program interpreter'; }; then
  need+=(busybox-static)
fi
command -v readelf >/dev/null || need+=(binutils)
if [ ${#need[@]} -gt 0 ]; then
  command -v apt-get >/dev/null || { echo "deps: apt-get unavailable; install by hand: ${need[*]}" >&2; exit 1; }
  echo "deps: apt-get install ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq "${need[@]}" >&2
fi
# The registry package starts a system service on :5000; the stack runs its own on a free port.
if command -v systemctl >/dev/null && systemctl is-active --quiet docker-registry 2>/dev/null; then
  systemctl stop docker-registry >/dev/null 2>&1 || true
fi
# Installing openssh-server enables and starts a root sshd on port 22 of every interface. Where
# this script is what installed it, undo that: the stack runs its own sshd on loopback. An sshd
# that was there before is left alone.
if [[ " ${need[*]} " == *" openssh-server "* ]] && command -v systemctl >/dev/null; then
  systemctl disable --now ssh >/dev/null 2>&1 || true
fi

# The two compiles are independent: run them side by side.
"$root/integration/scripts/build-buildkit.sh" >/dev/null &
bk=$!
"$root/integration/scripts/build-vault.sh" >/dev/null &
vault=$!
rc=0
wait $bk || { echo "deps: building buildkitd failed" >&2; rc=1; }
wait $vault || { echo "deps: building vault failed" >&2; rc=1; }
exit $rc
