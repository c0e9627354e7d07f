#!/usr/bin/env bash
# Prefill through the GEMM kernels gives the same greedy tokens as prefill
# through vec_dot (POCKET_GEMM=0): stories260K quantized to q8_0 and q4_0
# (its 172-wide ffn_down stays unquantized) and the house model in f16 and
# quantized to q4_0 and Q4_K_M; a prompt of 40+ tokens so that every prefill matmul
# takes the GEMM path; f16 and q8_0 KV caches. GREEDY_SWITCH names the
# switch to compare against (tests/test_gemv_greedy.sh: POCKET_GEMV, decode
# through the GEMV kernels against vec_dot).
set -u
SW="${GREEDY_SWITCH:-POCKET_GEMM}"
P="${POCKET_CLI:-build/pocket}"
S="${POCKET_SHARED:-../shared}"
H="${POCKET_HOUSE:-models/house-qmsum-f16.gguf}"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0; fail=0
prompt="Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends. One day, she saw a big red ball"
check() { # model file, label, extra run args
  local a b
  a=$(env "$SW=0" "$P" run -m "$1" -p "$prompt" --temp 0 -n 24 --ids -t 2 "${@:3}" 2>&1 | tr '\n' ' ')
  b=$("$P" run -m "$1" -p "$prompt" --temp 0 -n 24 --ids -t 2 "${@:3}" 2>&1 | tr '\n' ' ')
  if [ -n "$a" ] && [ "$a" == "$b" ]; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL: $2: $SW=0 [$a] default [$b]" >&2; fi
}
quant() { "$P" quantize "$1" "$2" "$3" -q >/dev/null 2>&1 || { fail=$((fail+1)); echo "FAIL: quantize $1 $3" >&2; }; }
M="$S/models/stories260K/stories260K.gguf"
for ty in q8_0 q4_0; do
  quant "$M" "$T/s-$ty.gguf" "$ty"
  check "$T/s-$ty.gguf" "stories260K $ty"
done
if [ -f "$H" ]; then
  check "$H" "house f16"
  for ty in q4_0 Q4_K_M; do
    quant "$H" "$T/h-$ty.gguf" "$ty"
    check "$T/h-$ty.gguf" "house $ty"
    check "$T/h-$ty.gguf" "house $ty kv q8_0" --kv-type q8_0
  done
else
  echo "house model $H not found: skipped" >&2
fi
echo "test_gemm_greedy ($SW): $pass passed, $fail failed"
[ "$fail" -eq 0 ]
