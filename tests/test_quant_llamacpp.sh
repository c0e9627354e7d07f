#!/usr/bin/env bash
# Files written by `pocket quantize` load in llama.cpp and give the same
# greedy continuation there as in pocket: the house model quantized to
# Q4_K_M, Q4_0, IQ4_XS (refined quantizers) and to a 4.3 bpw budget mix
# (per-tensor types), each run greedy for 24 tokens in pocket and in
# llama-simple on the same prompt; the texts must be equal. Skips (exit 77)
# without a llama.cpp build: POCKET_LLAMA_BIN (default
# ../scratch-llamacpp/llama.cpp/build/bin, then /work/scratch/llama.cpp/build/bin)
# or without the house model.
set -u
P="${POCKET_CLI:-build/pocket}"
H="${POCKET_HOUSE:-models/house-qmsum-f16.gguf}"
L="${POCKET_LLAMA_BIN:-}"
if [ -z "$L" ]; then
  for d in ../scratch-llamacpp/llama.cpp/build/bin /work/scratch/llama.cpp/build/bin; do
    [ -x "$d/llama-simple" ] && { L=$d; break; }
  done
fi
if [ -z "$L" ] || [ ! -x "$L/llama-simple" ]; then echo "skipped: no llama.cpp build (POCKET_LLAMA_BIN)"; exit 77; fi
if [ ! -f "$H" ]; then echo "skipped: no house model $H"; exit 77; fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
prompt="The meeting began with a discussion of the budget"
pass=0; fail=0
check() { # file label
  local p l
  p=$("$P" run -m "$1" -p "$prompt" -n 24 --temp 0 --no-prompt-echo -t 2 2>/dev/null)
  # llama-simple prints the prompt (after a BOS shown as <s>) and the continuation
  l=$("$L/llama-simple" -m "$1" -n 24 "$prompt" 2>/dev/null)
  l="${l#<s> }"; l="${l#"$prompt"}"
  l="${l//<unk>/}"; l="${l//<s>/}"; l="${l//<\/s>/}"
  if [ -n "$p" ] && [ "$p" == "$l" ]; then
    pass=$((pass+1)); echo "same: $2: $(printf %q "$p")"
  else
    fail=$((fail+1)); echo "FAIL: $2: pocket $(printf %q "$p") llama.cpp $(printf %q "$l")" >&2
  fi
}
for ty in Q4_K_M Q4_0 IQ4_XS; do
  if "$P" quantize "$H" "$T/$ty.gguf" "$ty" -q >/dev/null 2>&1; then check "$T/$ty.gguf" "$ty"
  else fail=$((fail+1)); echo "FAIL: quantize $ty" >&2; fi
done
if "$P" quantize "$H" "$T/b.gguf" --bpw 4.3 -q >/dev/null 2>&1; then check "$T/b.gguf" "budget 4.3 bpw"
else fail=$((fail+1)); echo "FAIL: quantize --bpw 4.3" >&2; fi
echo "$pass same, $fail failed"
[ "$fail" = 0 ]
