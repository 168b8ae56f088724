#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages fileaio needs that are missing. Elsewhere it names them and
# stops. Idempotent: does nothing (and needs no network) when everything is there.
set -euo pipefail

# libclang-rt-dev: libFuzzer and the sanitizer runtimes of clang (only recommended by clang).
# abigail-tools: abidw/abidiff for the ABI check of make test (tests/release/abi_check.sh).
# dpkg-dev (dpkg-shlibdeps), file, lintian: make package and its tests (tests/release/package_test.sh).
packages=(g++ cmake make pkg-config liburing-dev libaio-dev libgtest-dev libbenchmark-dev
          libfuse3-dev fuse3 fio clang libclang-rt-dev python3 time abigail-tools dpkg-dev file lintian)

missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$p")
    fi
  done
else
  echo "install-deps: not a Debian/Ubuntu system (no dpkg)." >&2
  echo "install-deps: please install the equivalents of: ${packages[*]}" >&2
  exit 1
fi

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo="sudo"
  else
    echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
