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
#      without imatrix too), SECTIONS (default "recipes frontier"),
#      EMBDS (token_embd types of the frontier: q3_K q4_0 q4_K iq4_nl iq4_xs q5_K),
#      BAND ("4.0 5.0": the bpw range whose llama.cpp files get a pocket budget file),
#      LLAMA_IM ("no yes": llama.cpp frontier files without/with its imatrix),
#      KEEP_ROWS (1: pocket's plain types with the same token_embd type too)
#      POCKET (pocket binary, default build/pocket), THREADS (2; 1 on a busy machine,
#      where spinning pool threads waste their share)
# The frontier section: llama.cpp's recipes with token_embd (the tied output)
# overridden by --token-embedding-type / --output-tensor-type, which is how
# llama.cpp reaches 4-5 bpw on a model whose embedding is half the weights;
# pocket's plain types with the same --keep; and pocket's budget at the size
# of every llama.cpp file on the size/KLD frontier inside BAND. The table after
# it lists, per pocket budget file, llama.cpp's best file at or below its size.
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-models/house-qmsum-f16.gguf}
qmsum=${QMSUM:-/work/shared/data/qmsum}
work=${WORK:-../scratch-quant/$(md5sum "$model" | cut -c1-12)}
ctx=${CTX:-256}; th=${THREADS:-2}; chunks=${CHUNKS:-20}; out=${OUT:-bench/QUANT.md}
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
P=${POCKET:-build/pocket}
[ -s "$work/base.lg" ] && [ -s "$work/base.txt" ] ||
  $P perplexity -m "$model" -f "$val" --ctx "$ctx" --chunks "$chunks" -t "$th" --save-logits "$work/base.lg" 2>/dev/null > "$work/base.txt"
[ -s "$work/pocket.imatrix" ] || $P imatrix -m "$model" -f "$calib" -o "$work/pocket.imatrix" --ctx "$ctx" >/dev/null
if [ $have_llama = 1 ] && [ ! -s "$work/llama.imatrix" ]; then
  "$bin/llama-imatrix" -m "$model" -f "$calib" -o "$work/llama.imatrix" -c "$ctx" -t "$th" >/dev/null 2>&1
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
rows=$work/rows.tsv; : > "$rows"
sections=${SECTIONS:-recipes frontier}
measure() { # name type imatrix file
  local r bytes ppl kl
  r=$($P perplexity -m "$4" -f "$val" --ctx "$ctx" --chunks "$chunks" -t "$th" --kld-base "$work/base.lg" 2>/dev/null)
  bytes=$(stat -L -c %s "$4")
  ppl=$(echo "$r" | awk '/^perplexity/{print $2}')
  # "KLD: mean M, p99 P, max X; top-1 agreement T%"
  kl=$(echo "$r" | awk '/^KLD/{gsub(/[,;%]/,""); print $3, $5, $7, $10}')
  set -- "$1" "$2" "$3" "$4" $kl
  printf '| %s | %s | %s | %s | %.3f | %s | %s | %s | %s | %s |\n' "$1" "$2" "$3" "$bytes" \
    "$(echo "$bytes * 8 / $params" | bc -l)" "$ppl" "$5" "$6" "$7" "$8" >> "$out"
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$bytes" "$5" "$1" "$2" "$3" "$ppl" >> "$rows"
  rm -f "$4"
}
pq() { $P quantize "$model" "$@" -t "$th" -q >/dev/null 2>&1; }
im="--imatrix $work/pocket.imatrix"
sens_im="--calib $calib --sens $work/sens-imatrix.txt"
sens_plain="--calib $calib --sens $work/sens-plain.txt"
has() { case " $sections " in *" $1 "*) return 0;; esac; return 1; }
if has recipes; then
for b in $bpws; do
  pq "$work/q.gguf" --bpw "$b" $im $sens_im && measure pocket "budget $b bpw" yes "$work/q.gguf"
done
for s in ${SIZES:-}; do
  pq "$work/q.gguf" --target-size "$s" $im $sens_im && measure pocket "budget $s bytes" yes "$work/q.gguf"
done
for ty in $types; do
  if [ $have_llama = 1 ]; then
    "$bin/llama-quantize" "$model" "$work/q.gguf" "$ty" "$th" >/dev/null 2>&1 && measure llama.cpp "$ty" no "$work/q.gguf"
    "$bin/llama-quantize" --imatrix "$work/llama.imatrix" "$model" "$work/q.gguf" "$ty" "$th" >/dev/null 2>&1 &&
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
fi
if has frontier; then
  embds=${EMBDS:-q3_K q4_0 q4_K iq4_nl iq4_xs q5_K}
  read -r band_lo band_hi <<< "${BAND:-4.0 5.0}"
  for ty in $types; do
    for e in $embds; do
      if [ $have_llama = 1 ]; then
        for imx in ${LLAMA_IM:-no yes}; do
          a=(); [ $imx = yes ] && a=(--imatrix "$work/llama.imatrix")
          "$bin/llama-quantize" "${a[@]}" --token-embedding-type "$e" --output-tensor-type "$e" \
            "$model" "$work/q.gguf" "$ty" "$th" >/dev/null 2>&1 && measure llama.cpp "$ty, token_embd $e" $imx "$work/q.gguf"
        done
      fi
      [ "${KEEP_ROWS:-1}" = 1 ] && pq "$work/q.gguf" "$ty" $im --keep "^token_embd.weight=$e" &&
        measure pocket "$ty, token_embd $e" yes "$work/q.gguf"
    done
  done
  # llama.cpp's size/KLD frontier inside the band: files no smaller file beats
  lo=$(echo "$band_lo * $params / 8" | bc); hi=$(echo "$band_hi * $params / 8" | bc)
  sizes=$(awk -F'\t' -v lo="$lo" -v hi="$hi" '$3 == "llama.cpp" && $1 >= lo && $1 <= hi' "$rows" |
          sort -t$'\t' -k1,1n -k2,2g | awk -F'\t' 'NR == 1 || $2 < best { best = $2; print $1 }')
  for s in $sizes; do
    pq "$work/q.gguf" --target-size "$s" $im $sens_im && measure pocket "budget $s bytes" yes "$work/q.gguf"
  done
  {
    echo
    echo "### Frontier: pocket's files in the band vs llama.cpp's best file at or below their size"
    echo
    echo "| pocket file | bytes | bpw | mean KLD | llama.cpp's best at <= size | bytes | bpw | mean KLD | KLD ratio |"
    echo "|---|---:|---:|---:|---|---:|---:|---:|---:|"
    awk -F'\t' -v P="$params" -v lo="$lo" -v hi="$hi" '
      { b[NR] = $1; k[NR] = $2; q[NR] = $3; t[NR] = $4; im[NR] = $5 }
      END {
        for (i = 1; i <= NR; i++) {
          if (q[i] != "pocket" || b[i] < lo || b[i] > hi) continue
          best = -1
          for (j = 1; j <= NR; j++)
            if (q[j] == "llama.cpp" && b[j] <= b[i] && (best < 0 || k[j] < k[best])) best = j
          if (best < 0) {
            printf "| %s (imatrix %s) | %d | %.3f | %s | none | | | | |\n", t[i], im[i], b[i], b[i] * 8 / P, k[i]
          } else {
            printf "| %s (imatrix %s) | %d | %.3f | %s | %s (imatrix %s) | %d | %.3f | %s | %.2f |\n", t[i], im[i], b[i],
              b[i] * 8 / P, k[i], t[best], im[best], b[best], b[best] * 8 / P, k[best], k[i] / k[best]
          }
        }
      }' "$rows"
  } >> "$out"
fi
cat "$out"
