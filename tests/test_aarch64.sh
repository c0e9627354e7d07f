#!/usr/bin/env bash
# The AArch64 build under qemu: cross-compiles pocket with
# cmake/aarch64-linux-gnu.cmake into <build>-aarch64 (release, no ASan; only
# the CLI and the kernel tests), then on two emulated CPUs, `-cpu max` (NEON
# + dotprod kernels, and the i8mm GEMM ones) and `-cpu cortex-a53` (plain
# ARMv8-A NEON), runs test_kernels and test_quant (every kernel against its
# reference) and test_gemm (the GEMM kernels: on `max` SMMLA, and SDOT with
# POCKET_NO_I8MM=1; on the a53 widening multiplies), the three test_gemm
# runs in the background beside the rest; and greedy
# generation with stories260K as f32, f16, q8_0, q4_0 and iq4_nl, whose token
# ids must equal the x86 build's (a 17-token prompt: prefill through the
# GEMM kernels, then decode through the GEMV ones); on `max` also q8_0 and
# q4_0 with POCKET_NO_I8MM=1 (the SDOT GEMM instead of SMMLA), and the house
# model as Q4_K_M (q4_K and q6_K through the SMMLA GEMM; skipped when
# POCKET_HOUSE, default models/house-qmsum-f16.gguf, is missing).
# POCKET_SKIP_AARCH64=1 skips (exit 77).
set -u
cd "$(dirname "$0")/.."
if [ "${POCKET_SKIP_AARCH64:-0}" = 1 ]; then echo "skipped: POCKET_SKIP_AARCH64=1"; exit 77; fi
if [ "$(uname -m)" = aarch64 ]; then echo "skipped: native AArch64 host (the main build runs the NEON kernels)"; exit 77; fi
S="${POCKET_SHARED:-../shared}"
X="${POCKET_CLI:-build/pocket}"
B="${POCKET_BIN:-$PWD/build}-aarch64"
M="$S/models/stories260K/stories260K.gguf"
missing=()
for tool in aarch64-linux-gnu-gcc qemu-aarch64 pkg-config; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
for pc in libpcre2-8 jansson libutf8proc; do
  [ -f "/usr/lib/aarch64-linux-gnu/pkgconfig/$pc.pc" ] || missing+=("arm64 $pc.pc")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "FAIL: missing for the aarch64 build: ${missing[*]} (run scripts/deps.sh, or POCKET_SKIP_AARCH64=1)" >&2
  exit 1
fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0; fail=0
ok() { pass=$((pass+1)); }
bad() { fail=$((fail+1)); echo "FAIL: $*" >&2; }

nice -n 5 cmake -S . -B "$B" -DCMAKE_TOOLCHAIN_FILE="$PWD/cmake/aarch64-linux-gnu.cmake" \
  -DCMAKE_BUILD_TYPE=Release -DPOCKET_SANITIZE_TESTS=OFF >"$T/configure.log" 2>&1 \
  || { cat "$T/configure.log" >&2; echo "FAIL: configure $B" >&2; exit 1; }
nice -n 5 cmake --build "$B" -j2 --target pocket test_kernels test_quant test_gemm >"$T/build.log" 2>&1 \
  || { tail -40 "$T/build.log" >&2; echo "FAIL: build $B" >&2; exit 1; }
echo "built $B"

# the models: stories260K as shipped (f32) and converted by the x86 CLI
models=("f32:$M")
for t in f16 q8_0 q4_0 iq4_nl; do
  if "$X" quantize "$M" "$T/s_$t.gguf" "$t" >/dev/null 2>&1; then models+=("$t:$T/s_$t.gguf")
  else bad "x86 quantize $t"; fi
done
prompt="Once upon a time, there was a little girl named Lily. She loved to play"
gen() { "$@" run -m "$model" -p "$prompt" --temp 0 -n 48 --ids 2>/dev/null | tr '\n' ' '; }
declare -A want
for mt in "${models[@]}"; do model="${mt#*:}"; want[${mt%%:*}]=$(gen "$X"); done

golden=$(tr -d '\n' < "$S/models/stories260K/greedy_ids_from_bos.txt")
gemm_runs=(max:0 max:1 cortex-a53:0) # CPU:POCKET_NO_I8MM: SMMLA, SDOT, widening
( for g in "${gemm_runs[@]}"; do
    POCKET_NO_I8MM=${g#*:} nice -n 5 qemu-aarch64 -cpu "${g%%:*}" "$B/test_gemm" >"$T/gemm_$g.log" 2>&1
    echo $? >"$T/gemm_$g.rc"
  done ) &
gemm_pid=$!
for cpu in max:neon+dotprod+i8mm cortex-a53:neon; do
  Q=(qemu-aarch64 -cpu "${cpu%%:*}")
  export POCKET_EXPECT_ISA="${cpu#*:}"
  for t in test_kernels test_quant; do
    if out=$(POCKET_SRC="$PWD" nice -n 5 "${Q[@]}" "$B/$t" 2>&1); then ok
    else bad "$t on -cpu ${cpu%%:*}"; echo "$out" | grep -E "FAIL|failed" | head -20 >&2; fi
    echo "  ${cpu%%:*} $t: $(echo "$out" | tail -1)"
  done
  ids=$(nice -n 5 "${Q[@]}" "$B/pocket" run -m "$M" --temp 0 -n 64 --ids | tr '\n' ' ' | sed 's/ $//')
  [ "$ids" == "$golden" ] && ok || bad "${cpu%%:*}: greedy ids from BOS differ from the golden ids"
  for mt in "${models[@]}"; do
    name="${mt%%:*}"; model="${mt#*:}"
    got=$(gen nice -n 5 "${Q[@]}" "$B/pocket")
    if [ -n "${want[$name]}" ] && [ "$got" == "${want[$name]}" ]; then ok
    else bad "${cpu%%:*} $name: greedy ids differ from x86"$'\n'"  x86:   ${want[$name]}"$'\n'"  arm64: $got"; fi
  done
  echo "  ${cpu%%:*} ($POCKET_EXPECT_ISA): greedy ids of ${#models[@]} model types compared with x86"
done
unset POCKET_EXPECT_ISA
for mt in "${models[@]}"; do # -cpu max without the SMMLA kernels
  name="${mt%%:*}"; model="${mt#*:}"
  case "$name" in q8_0|q4_0) ;; *) continue ;; esac
  got=$(gen env POCKET_NO_I8MM=1 nice -n 5 qemu-aarch64 -cpu max "$B/pocket")
  if [ -n "${want[$name]}" ] && [ "$got" == "${want[$name]}" ]; then ok
  else bad "max POCKET_NO_I8MM=1 $name: greedy ids differ from x86"; fi
done
echo "  max (neon+dotprod, POCKET_NO_I8MM=1): greedy ids of q8_0 and q4_0 compared with x86"
H="${POCKET_HOUSE:-models/house-qmsum-f16.gguf}"
if [ -f "$H" ]; then
  hq="$T/house-q4_K_M.gguf"
  hgen() { "$@" run -m "$hq" -p "$prompt" --temp 0 -n 6 --ids 2>/dev/null | tr '\n' ' '; }
  if "$X" quantize "$H" "$hq" Q4_K_M -q >/dev/null 2>&1; then
    hx=$(hgen "$X"); ha=$(hgen nice -n 5 qemu-aarch64 -cpu max "$B/pocket")
    if [ -n "$hx" ] && [ "$hx" == "$ha" ]; then ok
    else bad "max house Q4_K_M: greedy ids differ from x86"$'\n'"  x86:   $hx"$'\n'"  arm64: $ha"; fi
    echo "  max: greedy ids of the house model as Q4_K_M compared with x86"
  else bad "x86 quantize $H Q4_K_M"; fi
else
  echo "  house model $H not found: its Q4_K_M case skipped"
fi
wait "$gemm_pid"
for g in "${gemm_runs[@]}"; do
  if [ "$(cat "$T/gemm_$g.rc" 2>/dev/null)" = 0 ]; then ok
  else bad "test_gemm on -cpu ${g%%:*}, POCKET_NO_I8MM=${g#*:}"; grep -E "FAIL|failed" "$T/gemm_$g.log" | head -20 >&2; fi
  echo "  ${g%%:*} POCKET_NO_I8MM=${g#*:} test_gemm ($(grep -o 'kernels: .*' "$T/gemm_$g.log")): $(tail -1 "$T/gemm_$g.log")"
done
echo "test_aarch64: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
