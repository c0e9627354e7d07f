#!/usr/bin/env bash
# Install the Debian packages pocket builds and tests with (idempotent).
# Runs apt-get only for what is missing; uses sudo when not root. On amd64
# hosts it also enables the arm64 multiarch architecture and installs the
# arm64 -dev packages the cross build (cmake/aarch64-linux-gnu.cmake,
# tests/test_aarch64.sh) links against; Debian's default sources carry arm64.
set -euo pipefail
PKGS=(build-essential cmake pkg-config
      libpcre2-dev libjansson-dev libutf8proc-dev libmicrohttpd-dev
      libcurl4-openssl-dev libsqlite3-dev libjpeg-dev libpng-dev libsodium-dev
      clang libclang-rt-14-dev gcc-aarch64-linux-gnu libc6-dev-arm64-cross
      qemu-user)
# what the library and its tests need, for the arm64 cross build
ARM64_PKGS=(libpcre2-dev:arm64 libjansson-dev:arm64 libutf8proc-dev:arm64
            libjpeg-dev:arm64 libpng-dev:arm64)
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
need_update=0
if [ "$(dpkg --print-architecture)" = amd64 ]; then
  foreign=$(dpkg --print-foreign-architectures)
  if ! grep -qx arm64 <<<"$foreign"; then
    echo "enabling the arm64 architecture (dpkg --add-architecture arm64)"
    $SUDO dpkg --add-architecture arm64
    need_update=1
  fi
  PKGS+=("${ARM64_PKGS[@]}")
fi
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ] || [ $need_update -eq 1 ]; then
  $SUDO apt-get update -q
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${missing[@]}"
fi
