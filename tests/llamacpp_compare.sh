#!/usr/bin/env bash
# Run by hand (not by ctest): the random-weight models of test_model_arch
# (one per architecture, f32 and quantized) through pocket and llama.cpp,
# greedy, same prompt, same number of tokens; prints both continuations and
# whether they are equal. Needs a llama.cpp build (bench/llamacpp.sh).
#   usage: tests/llamacpp_compare.sh LLAMA_BIN_DIR [BUILD_DIR]
set -uo pipefail
bin="${1:?llama.cpp bin dir}"
build="${2:-build}"
dir=$(mktemp -d)
POCKET_KEEP_MODELS="$dir" "$build/test_model_arch" >/dev/null 2>&1
same=0; diff=0
for m in "$dir"/*.gguf; do
  p=$("$build/pocket" run -m "$m" -p "hello world" -n 24 --temp 0 --no-prompt-echo -t 2 2>/dev/null)
  # llama-simple (greedy) prints "<s> PROMPT" and the continuation
  l=$("$bin/llama-simple" -m "$m" -n 24 "hello world" 2>/dev/null | tr -d '\n')
  l="${l#<s> hello world}"
  # llama-simple prints control tokens as their text; pocket run hides them
  l="${l//<unk>/}"; l="${l//<s>/}"; l="${l//<\/s>/}"
  if [ "$p" == "$l" ]; then r=same; same=$((same+1)); else r=DIFFERENT; diff=$((diff+1)); fi
  printf '%-32s pocket: %-26q llama.cpp: %-26q %s\n' "$(basename "$m")" "$p" "$l" "$r"
done
rm -rf "$dir"
echo "$same same, $diff different"
