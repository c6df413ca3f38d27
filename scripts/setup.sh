#!/usr/bin/env bash
# Installs the Debian 12 packages whitebox needs, skipping those already present (idempotent).
# Run as root on a fresh machine. The CUDA toolkit is optional and never installed here.
set -euo pipefail

packages=(
  g++ meson ninja-build pkg-config python3 python3-numpy
  libopenblas-dev liblapacke-dev libfmt-dev libboost-test-dev zlib1g-dev
  nlohmann-json3-dev libcli11-dev
  gnuplot-nox
  clang libclang-rt-14-dev  # scripts/fuzz.sh: libFuzzer targets under ASan and UBSan
  dataset-fashion-mnist
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages already installed"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "setup: missing packages: ${missing[*]}" >&2
  echo "setup: run as root (or: sudo apt-get install ${missing[*]})" >&2
  exit 1
fi

echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "setup: done"
