#!/usr/bin/env bash
# Quantization quality on the house model (or any F32/F16 GGUF): file size,
# bits per weight, perplexity and KL divergence against the unquantized model
# on held-out QMSum text (pocket perplexity --save-logits / --kld-base), for
# pocket's recipes (refined quantizers, and ggml's with --reference), pocket's
# size budgets (--bpw / --target-size with measured per-tensor sensitivity),
# and llama.cpp's quantizer when it is built (else pocket only). The same
# calibration text feeds both importance matrices. Writes bench/QUANT.md
# (row by row, so a cut run keeps its rows). Run by hand, under the bench lock:
#   flock /tmp/bench.lock nice -n 5 bench/quant_compare.sh [MODEL [VAL_TEXT CALIB_TEXT]]
# MODEL defaults to models/house-qmsum-f16.gguf; without texts, CALIB is the
# first 4 meetings of /work/shared/data/qmsum/train and VAL the first 6 of
# .../val, rendered by bench/qmsum_text.py.
# env: LLAMA_BIN (llama.cpp bin dir; default ../scratch-llamacpp/llama.cpp/build/bin
#      if built there, LLAMA_BIN=build runs bench/llamacpp.sh, LLAMA_BIN=none skips),
#      WORK (default ../scratch-quant/<model md5>: caches imatrix and
#      sensitivities per model content), CTX (256), CHUNKS (20), OUT (bench/QUANT.md),
#      TYPES (Q4_0 Q4_K_S Q4_K_M IQ4_NL IQ4_XS), BPWS (4.0 4.3 4.6),
#      SIZES (extra --target-size budgets in bytes), PLAIN_BUDGET (1: budgets
#      without imatrix too)
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-models/house-qmsum-f16.gguf}
qmsum=${QMSUM:-/work/shared/data/qmsum}
work=${WORK:-../scratch-quant/$(md5sum "$model" | cut -c1-12)}
ctx=${CTX:-256}; chunks=${CHUNKS:-20}; out=${OUT:-bench/QUANT.md}
types=${TYPES:-Q4_0 Q4_K_S Q4_K_M IQ4_NL IQ4_XS}; bpws=${BPWS:-4.0 4.3 4.6}
mkdir -p "$work"
if [ $# -ge 3 ]; then val=$2; calib=$3; else
  val=$work/val.txt; calib=$work/calib.txt
  [ -s "$val" ] || /usr/bin/python3 bench/qmsum_text.py "$qmsum/val" 0 6 "$val"
  [ -s "$calib" ] || /usr/bin/python3 bench/qmsum_text.py "$qmsum/train" 0 4 "$calib"
fi
bin=${LLAMA_BIN:-../scratch-llamacpp/llama.cpp/build/bin}
[ "$bin" = build ] && bin=$(bash bench/llamacpp.sh)
have_llama=0; [ -x "$bin/llama-quantize" ] && [ -x "$bin/llama-imatrix" ] && have_llama=1
P=build/pocket
[ -s "$work/base.lg" ] && [ -s "$work/base.txt" ] ||
  $P perplexity -m "$model" -f "$val" --ctx "$ctx" --chunks "$chunks" --save-logits "$work/base.lg" 2>/dev/null > "$work/base.txt"
[ -s "$work/pocket.imatrix" ] || $P imatrix -m "$model" -f "$calib" -o "$work/pocket.imatrix" --ctx "$ctx" >/dev/null
if [ $have_llama = 1 ] && [ ! -s "$work/llama.imatrix" ]; then
  "$bin/llama-imatrix" -m "$model" -f "$calib" -o "$work/llama.imatrix" -c "$ctx" -t 2 >/dev/null 2>&1
fi
params=$($P inspect "$model" --no-tensors | awk '/^parameters:/{print $2}')
{
  echo "# Quantization quality: pocket$([ $have_llama = 1 ] && echo " vs llama.cpp") (house model)"
  echo
  echo "$(date -u +%Y-%m-%d); model $(basename "$model") ($params weights, md5 $(md5sum "$model" | cut -c1-12));"
  echo "held-out text $(basename "$val") ($(wc -c < "$val") bytes), calibration text $(basename "$calib")"
  echo "($(wc -c < "$calib") bytes) for the importance matrices and the sensitivity probes;"
  echo "windows of $ctx tokens, $chunks windows. KLD: KL(base || quantized) per scored token, nats."
  echo "Base ($(basename "$model")): $(cat "$work/base.txt")"
  echo "Command: \`bench/quant_compare.sh $*\`$([ $have_llama = 1 ] || echo " (llama.cpp not built: pocket only)")"
  echo
  echo "| quantizer | type | imatrix | file bytes | bpw | PPL | mean KLD | p99 KLD | max KLD | top-1 % |"
  echo "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"
} > "$out"
measure() { # name type imatrix file
  local r bytes ppl kl
  r=$($P perplexity -m "$4" -f "$val" --ctx "$ctx" --chunks "$chunks" --kld-base "$work/base.lg" 2>/dev/null)
  bytes=$(stat -L -c %s "$4")
  ppl=$(echo "$r" | awk '/^perplexity/{print $2}')
  # "KLD: mean M, p99 P, max X; top-1 agreement T%"
  kl=$(echo "$r" | awk '/^KLD/{gsub(/[,;%]/,""); print $3, $5, $7, $10}')
  set -- "$1" "$2" "$3" "$4" $kl
  printf '| %s | %s | %s | %s | %.3f | %s | %s | %s | %s | %s |\n' "$1" "$2" "$3" "$bytes" \
    "$(echo "$bytes * 8 / $params" | bc -l)" "$ppl" "$5" "$6" "$7" "$8" >> "$out"
  rm -f "$4"
}
pq() { $P quantize "$model" "$@" -q >/dev/null 2>&1; }
im="--imatrix $work/pocket.imatrix"
sens_im="--calib $calib --sens $work/sens-imatrix.txt"
sens_plain="--calib $calib --sens $work/sens-plain.txt"
for b in $bpws; do
  pq "$work/q.gguf" --bpw "$b" $im $sens_im && measure pocket "budget $b bpw" yes "$work/q.gguf"
done
for s in ${SIZES:-}; do
  pq "$work/q.gguf" --target-size "$s" $im $sens_im && measure pocket "budget $s bytes" yes "$work/q.gguf"
done
for ty in $types; do
  if [ $have_llama = 1 ]; then
    "$bin/llama-quantize" "$model" "$work/q.gguf" "$ty" 2 >/dev/null 2>&1 && measure llama.cpp "$ty" no "$work/q.gguf"
    "$bin/llama-quantize" --imatrix "$work/llama.imatrix" "$model" "$work/q.gguf" "$ty" 2 >/dev/null 2>&1 &&
      measure llama.cpp "$ty" yes "$work/q.gguf"
  fi
  pq "$work/q.gguf" "$ty" && measure pocket "$ty" no "$work/q.gguf"
  pq "$work/q.gguf" "$ty" $im && measure pocket "$ty" yes "$work/q.gguf"
  pq "$work/q.gguf" "$ty" $im --reference && measure "pocket --reference" "$ty" yes "$work/q.gguf"
done
if [ "${PLAIN_BUDGET:-1}" = 1 ]; then
  for b in $bpws; do
    pq "$work/q.gguf" --bpw "$b" $sens_plain && measure pocket "budget $b bpw" no "$work/q.gguf"
  done
fi
cat "$out"
