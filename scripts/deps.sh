#!/usr/bin/env bash
# Installs the Debian packages recur needs (only those missing).  Runs
# apt-get as root, or through sudo when not root.  Sourced or run by
# scripts/demo.sh, scripts/test.sh and .ci/run.  Packages named as arguments
# are installed too: tests/sh/cells_page.sh asks for `chromium` (the browser
# its page is checked in) only when it is missing.
set -euo pipefail
pkgs=(build-essential pkg-config libopenblas-dev libjansson-dev libcmocka-dev
      python3-torch python3-numpy fortunes clang libclang-rt-14-dev bc
      libopenmpi-dev openmpi-bin "$@")
missing=()
for p in "${pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "recur: installing Debian packages: ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q >/dev/null
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
