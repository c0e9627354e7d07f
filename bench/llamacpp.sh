#!/usr/bin/env bash
# Build llama.cpp (the source node-llama-cpp@3.21.1 ships, commit 80fb11a) in a
# scratch folder outside the repository, for side-by-side figures only.
# Nothing of llama.cpp is committed. Prints the bin/ directory on success.
# Built for the best x86 path ggml has on this CPU short of AMX: AVX2/FMA/F16C,
# plus AVX-VNNI and AVX-512 (F, BW, VL, VNNI, VBMI, BF16) when /proc/cpuinfo
# lists them, not -march=native: this VM's CPU advertises AMX, and ggml's AMX
# path dies with an illegal instruction here. (Until 2026-11-29 the build was
# AVX2-only; on the dev machine the AVX-512 build's pp128 is 1.3-1.75x that
# build's, so comparisons before then flattered pocket; see bench/RESULTS.md.)
# LLAMA_AVX2_ONLY=1 builds the AVX2-only one (into build-avx2).
#   usage: bench/llamacpp.sh [SCRATCH_DIR]   (default: ../scratch-llamacpp)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
scratch="${1:-$here/../scratch-llamacpp}"
mkdir -p "$scratch"
cd "$scratch"
if [ ! -d node_modules/node-llama-cpp ]; then
  npm i -E node-llama-cpp@3.21.1 >npm.log 2>&1
fi
if [ ! -d llama.cpp ]; then
  git clone -q node_modules/node-llama-cpp/llama/gitRelease.bundle llama.cpp
fi
cd llama.cpp
flags=(-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON)
out=build
has() { grep -qw "$1" /proc/cpuinfo; }
if [ "${LLAMA_AVX2_ONLY:-0}" = 1 ]; then
  out=build-avx2
else
  if has avx_vnni; then flags+=(-DGGML_AVX_VNNI=ON); fi
  if has avx512f && has avx512bw && has avx512vl; then
    flags+=(-DGGML_AVX512=ON)
    if has avx512_vnni; then flags+=(-DGGML_AVX512_VNNI=ON); fi
    if has avx512vbmi; then flags+=(-DGGML_AVX512_VBMI=ON); fi
    if has avx512_bf16; then flags+=(-DGGML_AVX512_BF16=ON); fi
  fi
fi
cmake -S . -B "$out" -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF "${flags[@]}" \
      -DLLAMA_BUILD_SERVER=OFF >/dev/null
cmake --build "$out" -j"$(nproc)" --target llama-completion llama-simple \
      llama-quantize llama-bench llama-perplexity llama-imatrix llama-gguf \
      llama-tokenize >/dev/null
echo "$scratch/llama.cpp/$out/bin"
