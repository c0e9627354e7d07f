#!/usr/bin/env bash
# Build llama.cpp (the source node-llama-cpp@3.21.1 ships, commit 80fb11a) in a
# scratch folder outside the repository, for side-by-side figures only.
# Nothing of llama.cpp is committed. Prints the bin/ directory on success.
# Built for AVX2/FMA/F16C (the project's target x86 machines), not -march=native:
# this VM's CPU advertises AVX-512 and AMX, and ggml's AMX path dies with an
# illegal instruction here.
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
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF \
      -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
      -DGGML_BMI2=ON -DLLAMA_BUILD_SERVER=OFF >/dev/null
cmake --build build -j"$(nproc)" --target llama-completion llama-simple \
      llama-quantize llama-bench llama-perplexity llama-imatrix llama-gguf \
      llama-tokenize >/dev/null
echo "$scratch/llama.cpp/build/bin"
