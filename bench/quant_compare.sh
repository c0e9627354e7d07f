#!/usr/bin/env bash
# Quantization quality, pocket vs llama.cpp, on the house model: file size,
# bits per weight, perplexity and KL divergence against the F32 model on
# held-out QMSum text (pocket perplexity), the same calibration text for
# both importance matrices. Writes bench/QUANT.md. Run by hand.
#   usage: bench/quant_compare.sh F32_MODEL VAL_TEXT CALIB_TEXT
#   env: LLAMA_BIN (default: bench/llamacpp.sh), WORK (../scratch-quant),
#        CTX (256), CHUNKS (40)
set -euo pipefail
cd "$(dirname "$0")/.."
f32=$1; val=$2; calib=$3
work=${WORK:-../scratch-quant}; ctx=${CTX:-256}; chunks=${CHUNKS:-40}
mkdir -p "$work"
bin=${LLAMA_BIN:-$(bash bench/llamacpp.sh)}
P=build/pocket
$P perplexity -m "$f32" -f "$val" --ctx "$ctx" --chunks "$chunks" --save-logits "$work/base.lg" 2>/dev/null > "$work/base.txt"
$P imatrix -m "$f32" -f "$calib" -o "$work/pocket.imatrix" --ctx "$ctx" >/dev/null
"$bin/llama-imatrix" -m "$f32" -f "$calib" -o "$work/llama.imatrix" -c "$ctx" -t 2 >/dev/null 2>&1
params=$($P inspect "$f32" --no-tensors | awk '/^parameters:/{print $2}')
out=bench/QUANT.md
{
  echo "# Quantization quality: pocket vs llama.cpp (house model)"
  echo
  echo "$(date -u +%Y-%m-%d); model $(basename "$f32") ($params weights); held-out text $(basename "$val");"
  echo "calibration text $(basename "$calib") for both importance matrices; windows of $ctx tokens, $chunks windows."
  echo "Base (F32): $(cat "$work/base.txt")"
  echo "Command: \`bench/quant_compare.sh $f32 $val $calib\`"
  echo
  echo "| quantizer | type | imatrix | file bytes | bpw | PPL | mean KLD | p99 KLD | top-1 % |"
  echo "|---|---|---|---:|---:|---:|---:|---:|---:|"
} > "$out"
measure() { # name type imatrix file
  local r k
  r=$($P perplexity -m "$4" -f "$val" --ctx "$ctx" --chunks "$chunks" --kld-base "$work/base.lg" 2>/dev/null)
  local bytes; bytes=$(stat -L -c %s "$4")
  local ppl; ppl=$(echo "$r" | awk '/^perplexity/{print $2}')
  local kl; kl=$(echo "$r" | awk '/^KLD/{gsub(",",""); print $3, $5, $10}')
  set -- "$1" "$2" "$3" "$4" $kl
  printf '| %s | %s | %s | %s | %.3f | %s | %s | %s | %s |\n' "$1" "$2" "$3" "$bytes" \
    "$(echo "$bytes * 8 / $params" | bc -l)" "$ppl" "$5" "$6" "$(echo "$7" | tr -d '%;')" >> "$out"
}
for ty in Q4_0 Q4_K_S Q4_K_M IQ4_NL IQ4_XS; do
  "$bin/llama-quantize" "$f32" "$work/ll-$ty.gguf" "$ty" 2 >/dev/null 2>&1
  measure llama.cpp "$ty" no "$work/ll-$ty.gguf"
  "$bin/llama-quantize" --imatrix "$work/llama.imatrix" "$f32" "$work/lli-$ty.gguf" "$ty" 2 >/dev/null 2>&1
  measure llama.cpp "$ty" yes "$work/lli-$ty.gguf"
  $P quantize "$f32" "$work/pk-$ty.gguf" "$ty" -q >/dev/null 2>&1
  measure pocket "$ty" no "$work/pk-$ty.gguf"
  $P quantize "$f32" "$work/pki-$ty.gguf" "$ty" --imatrix "$work/pocket.imatrix" -q >/dev/null 2>&1
  measure pocket "$ty" yes "$work/pki-$ty.gguf"
done
for b in 4.0 4.3 4.6 5.0 6.0; do
  $P quantize "$f32" "$work/pkb-$b.gguf" --bpw "$b" --imatrix "$work/pocket.imatrix" -q >/dev/null 2>&1
  measure pocket "budget $b bpw" yes "$work/pkb-$b.gguf"
done
cat "$out"
