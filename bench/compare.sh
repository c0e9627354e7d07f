#!/usr/bin/env bash
# pocket vs llama.cpp on the same GGUF files, same thread count, alternating
# runs: synthetic models of real shapes (random weights, written by
# bench/make_model through pocket's writer, quantized by `pocket quantize`),
# prompt processing (pp) and generation (tg) tokens/s. Writes
# bench/RESULTS.md (keeping what follows a "<!-- kept by compare.sh" line).
# Run by hand on an otherwise idle machine.
#   usage: bench/compare.sh [SHAPES (tinyllama 7b)] [TYPES (q4_0 Q4_K_M)]
#   a shape may name its own types: "tinyllama 7b:q4_0" runs 7b with q4_0 only
#   env: THREADS (2), PP (128), TG (32), REPS (3), WORK (../scratch-bench),
#        LLAMA_BIN (default: built by bench/llamacpp.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
shapes=${1:-"tinyllama"}
types=${2:-"q4_0 Q4_K_M"}
T=${THREADS:-2}; PP=${PP:-128}; TG=${TG:-32}; R=${REPS:-3}
work=${WORK:-../scratch-bench}
mkdir -p "$work"
bash scripts/build.sh >/dev/null
bin=${LLAMA_BIN:-$(bash bench/llamacpp.sh)}
out=bench/RESULTS.md
# sections below a line starting "<!-- kept by compare.sh" survive a rerun
keep=""
if [ -f "$out" ] && grep -q '^<!-- kept by compare.sh' "$out"; then
  keep=$(sed -n '/^<!-- kept by compare.sh/,$p' "$out")
fi
# The roof: generation reads every weight once per token (token_embd only
# one row, unless it is also the output matrix), so tg <= bandwidth / bytes.
# The host's bandwidth drifts (18-24 GB/s within an hour on the 2-core VM),
# so each round measures it just before its runs and uses that figure.
bandwidth() { build/bench/bandwidth -t "$T" --json | sed 's/.*\[\(.*\)\].*/\1/' | awk -F', ' '{print $NF}'; }
bw=$(bandwidth)
# the x86 paths llama.cpp was built with, from its CMake cache
lisa=$(grep -E '^GGML_(AVX|AVX2|AVX_VNNI|AVX512|AVX512_VNNI|AVX512_VBMI|AVX512_BF16|FMA|F16C|AMX_[A-Z0-9]+):BOOL=ON' \
         "$bin/../CMakeCache.txt" 2>/dev/null | sed 's/^GGML_//; s/:BOOL=ON//' | paste -sd/ - || true)
kern=""
tok_bytes() { # bytes of weights read per generated token
  local fsz emb out
  fsz=$(stat -L -c %s "$1")
  emb=$(build/pocket inspect "$1" | awk '$1=="token_embd.weight"{print $(NF-1)}')
  out=$(build/pocket inspect "$1" | awk '$1=="output.weight"{print $(NF-1)}')
  if [ -n "$out" ]; then echo $(( fsz - emb )); else echo "$fsz"; fi
}
{
  echo "# pocket vs llama.cpp: speed"
  echo
  echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'),"
  echo "$(free -g | awk '/Mem:/{print $2}') GiB; $(date -u +%Y-%m-%d). llama.cpp 80fb11a built by bench/llamacpp.sh (${lisa:-x86 flags unknown})."
  echo "Command: \`THREADS=$T PP=$PP TG=$TG REPS=$R bench/compare.sh \"$shapes\" \"$types\"\`"
  echo "Read bandwidth with $T threads (build/bench/bandwidth) before the runs: $bw GB/s."
  echo "tg roof = bandwidth / weight bytes read per token (file size less"
  echo "token_embd when the output matrix is separate), with the bandwidth"
  echo "measured again just before each round (column GB/s)."
  echo
  echo "| model | type | size MB | GB/s | tg roof t/s | engine | pp$PP t/s | tg$TG t/s | tg % of roof |"
  echo "|---|---|---:|---:|---:|---|---:|---:|---:|"
} > "$out"
for spec in $shapes; do
  s=${spec%%:*}
  stypes=$types
  [ "$spec" != "$s" ] && stypes=$(echo "${spec#*:}" | tr ',' ' ')
  f16="$work/$s-f16.gguf"
  [ -f "$f16" ] || build/bench/make_model "$s" "$f16" >/dev/null
  for ty in $stypes; do
    q="$work/$s-$ty.gguf"
    # ggml's own quantizers (--reference): the weights are random and only the
    # layout matters for speed; the refined search would take minutes per file
    [ -f "$q" ] || build/pocket quantize "$f16" "$q" "$ty" --reference -q >/dev/null 2>&1
    # A file just written sits in the page cache in 4 KB pages; read back
    # from disk (as a model normally is) the kernel caches it in large
    # folios that both engines' memory maps then map 2 MB at a time: on a
    # 6.18 kernel 7B q4_0 decode went from 6.9-10 to 10.7-11.1 t/s. So drop
    # the file's cached pages and read it once, before the rounds.
    dd if="$q" iflag=nocache count=0 status=none 2>/dev/null || true
    cat "$q" > /dev/null
    mb=$(( $(stat -L -c %s "$q") / 1000000 ))
    nb=$(tok_bytes "$q")
    pct() { echo "$1" | awk -v r="$roof" '{printf "%.0f%%", 100 * $1 / r}'; }
    for round in 1 2; do   # alternate the engines
      bwr=$(bandwidth)
      roof=$(awk -v b="$bwr" -v n="$nb" 'BEGIN{printf "%.1f", b * 1e9 / n}')
      pj=$(build/pocket bench -m "$q" -t "$T" -p "$PP" -n "$TG" -r "$R" --json)
      kern=$(echo "$pj" | sed -n 's/.*"kernels": "\([^"]*\)".*/\1/p')
      pp=$(echo "$pj" | sed 's/.*"pp_tps": \([0-9.]*\), "pp_sd": \([0-9.]*\).*/\1 ± \2/' | awk '{printf "%.2f ± %.2f", $1, $3}')
      tg=$(echo "$pj" | sed 's/.*"tg_tps": \([0-9.]*\), "tg_sd": \([0-9.]*\).*/\1 ± \2/' | awk '{printf "%.2f ± %.2f", $1, $3}')
      echo "| $s | $ty | $mb | $bwr | $roof | pocket | $pp | $tg | $(pct "$tg") |" >> "$out"
      lb=$("$bin/llama-bench" -m "$q" -t "$T" -p "$PP" -n "$TG" -r "$R" -o csv 2>/dev/null | tr -d '"' | tail -2)
      # columns ... n_prompt,n_gen,n_depth,test_time,avg_ns,stddev_ns,avg_ts,stddev_ts
      lpp=$(echo "$lb" | awk -F, -v p="$PP" '$(NF-7)==p && $(NF-6)==0 {printf "%.2f ± %.2f", $(NF-1), $NF}')
      ltg=$(echo "$lb" | awk -F, -v g="$TG" '$(NF-7)==0 && $(NF-6)==g {printf "%.2f ± %.2f", $(NF-1), $NF}')
      echo "| $s | $ty | $mb | $bwr | $roof | llama.cpp | $lpp | $ltg | $(pct "$ltg") |" >> "$out"
    done
  done
done
bw2=$(bandwidth)
{ echo; echo "Read bandwidth again after the runs: $bw2 GB/s. pocket's kernels: $kern."; } >> "$out"
if [ -n "$keep" ]; then printf '\n%s\n' "$keep" >> "$out"; fi
cat "$out"
