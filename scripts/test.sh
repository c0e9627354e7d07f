#!/usr/bin/env bash
# Build and run every test (unit, golden, hostile-input replays, the ASan+UBSan
# builds of each, and the aarch64 build under qemu). ctest's summary is last.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
bash scripts/build.sh
cd build
ctest -j"$(nproc)" --output-on-failure "$@"
