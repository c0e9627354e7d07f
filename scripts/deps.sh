#!/usr/bin/env bash
# Install the Debian packages pocket builds and tests with (idempotent).
# Runs apt-get only for what is missing; uses sudo when not root.
set -euo pipefail
PKGS=(build-essential cmake pkg-config
      libpcre2-dev libjansson-dev libutf8proc-dev libmicrohttpd-dev
      libcurl4-openssl-dev libsqlite3-dev libjpeg-dev libpng-dev libsodium-dev
      clang libclang-rt-14-dev gcc-aarch64-linux-gnu libc6-dev-arm64-cross
      qemu-user)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  echo "installing: ${missing[*]}"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${missing[@]}"
fi
