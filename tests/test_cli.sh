#!/usr/bin/env bash
# The pocket CLI as a user runs it: --help everywhere, the stories260K golden
# ids through `pocket run --ids`, tokenize, inspect, quantize, perplexity,
# convert-llama2c, erase, and clean non-zero exits with messages on bad input.
set -u
P="${POCKET_CLI:-build/pocket}"
S="${POCKET_SHARED:-../shared}"
M="$S/models/stories260K/stories260K.gguf"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0; fail=0
ok() { pass=$((pass+1)); }
bad() { fail=$((fail+1)); echo "FAIL: $*" >&2; }
expect() { # description, then a command that must succeed
  local d="$1"; shift
  if "$@" >/dev/null 2>&1; then ok; else bad "$d"; fi
}
for c in run tokenize inspect quantize imatrix perplexity bench convert-llama2c convert-raw erase; do
  out=$("$P" "$c" --help 2>&1) && [ -n "$out" ] && ok || bad "$c --help"
done
"$P" >/dev/null 2>&1; [ $? -eq 2 ] && ok || bad "no command exits 2"
"$P" frobnicate >/dev/null 2>&1; [ $? -eq 2 ] && ok || bad "unknown command exits 2"
ids=$("$P" run -m "$M" --temp 0 -n 64 --ids | tr '\n' ' ' | sed 's/ $//')
[ "$ids" == "$(tr -d '\n' < "$S/models/stories260K/greedy_ids_from_bos.txt")" ] && ok || bad "run --ids golden"
txt=$("$P" run -m "$M" --temp 0 -n 30)
[[ "$txt" == "Once upon a time, there was a little girl named Lily."* ]] && ok || bad "run text: $txt"
tk=$("$P" tokenize -m "$M" -p "Once upon a time")
[ "$tk" == "1 403 407 261 378" ] && ok || bad "tokenize: $tk"
tk=$(echo -n "Once upon a time" | "$P" tokenize -m "$M" --no-bos)
[ "$tk" == "403 407 261 378" ] && ok || bad "tokenize stdin --no-bos: $tk"
tk=$("$P" tokenize -m "$S/tokenizers/qwen2/tokenizer.json" -p "<|im_start|>user" --ids | wc -l)
[ "$tk" -eq 2 ] && ok || bad "tokenize tokenizer.json special: $tk"
"$P" inspect "$M" > "$T/i.txt" 2>&1 && ok || bad "inspect"
grep -q "llama.embedding_length" "$T/i.txt" && grep -q "token_embd.weight" "$T/i.txt" && grep -q "bits per weight" "$T/i.txt" && ok || bad "inspect output"
"$P" inspect "$S/models/stories260K/tok512.bin" > "$T/e.txt" 2>&1; r=$?
[ $r -eq 1 ] && grep -q "bad magic" "$T/e.txt" && ok || bad "inspect of a non-GGUF file: $r $(cat "$T/e.txt")"
"$P" run -m /nonexistent.gguf -p x > "$T/e.txt" 2>&1; r=$?
[ $r -eq 1 ] && grep -q "/nonexistent.gguf" "$T/e.txt" && ok || bad "run on a missing file"
"$P" run -m "$M" --bogus >/dev/null 2>&1; [ $? -eq 2 ] && ok || bad "unknown option exits 2"
expect "quantize q8_0" "$P" quantize "$M" "$T/q8.gguf" q8_0 -q
"$P" run -m "$M" --kv-type q8_0 -n 4 > "$T/e.txt" 2>&1; r=$?
[ $r -eq 1 ] && grep -q "multiple of 32" "$T/e.txt" && ok || bad "q8_0 KV on head dim 8: $r $(cat "$T/e.txt")"
"$P" run -m "$M" --kv-type q3 -n 4 > "$T/e.txt" 2>&1; r=$?
[ $r -eq 1 ] && grep -q "'q3'" "$T/e.txt" && ok || bad "unknown KV type: $r $(cat "$T/e.txt")"
H="$POCKET_SRC/models/house-qmsum-f16.gguf"
if [ -f "$H" ]; then
  a=$("$P" run -m "$H" -p "Okay, let's start the meeting." --temp 0 -n 24 --ids | tr '\n' ' ')
  b=$("$P" run -m "$H" -p "Okay, let's start the meeting." --temp 0 -n 24 --ids --kv-type q8_0 | tr '\n' ' ')
  [ -n "$a" ] && [ "$a" == "$b" ] && ok || bad "house model greedy ids, f16 vs q8_0 KV: $a / $b"
fi
ids=$("$P" run -m "$T/q8.gguf" --temp 0 -n 8 --ids | wc -l)
[ "$ids" -eq 8 ] && ok || bad "run quantized"
expect "convert-llama2c" "$P" convert-llama2c "$S/models/stories260K/stories260K.bin" "$T/c.gguf" --tokenizer "$S/models/stories260K/tok512.bin"
ids=$("$P" run -m "$T/c.gguf" --temp 0 -n 64 --ids | tr '\n' ' ' | sed 's/ $//')
[ "$ids" == "$(tr -d '\n' < "$S/models/stories260K/greedy_ids_from_bos.txt")" ] && ok || bad "converted golden ids"
head -c 20000 "$S/data/dialogsum/dialogsum.dev.jsonl" > "$T/t.txt"
pp=$("$P" perplexity -m "$M" -f "$T/t.txt" --ctx 64 --chunks 4 2>/dev/null)
[[ "$pp" == perplexity:* ]] && ok || bad "perplexity: $pp"
# erase: a tap on the person in a real photo, a mask, and every bad input
G="$S/images/people/girl-1.jpg"
R="$S/images/segmentation/reference"
E="$POCKET_SRC/tests/data/erase"
png_ok() { [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" == "89504e470d0a1a0a" ]; }
"$P" erase "$G" -o "$T/e.png" --point 217,270 -t 2 > "$T/e.txt" 2>&1; r=$?
[ $r -eq 0 ] && png_ok "$T/e.png" && grep -q "600x399" "$T/e.txt" && ok || bad "erase --point: $r $(cat "$T/e.txt")"
"$P" erase "$G" -o "$T/e.jpg" --mask "$R/girl-1.general.png" --dilate 3 --seed 5 -q 80 > "$T/e.txt" 2>&1; r=$?
[ $r -eq 0 ] && [ "$(head -c 3 "$T/e.jpg" | od -An -tx1 | tr -d ' \n')" == "ffd8ff" ] && ok || bad "erase --mask to JPEG: $r $(cat "$T/e.txt")"
"$P" erase "$G" -o "$T/b.png" --box 100,100,200,200 > "$T/e.txt" 2>&1 && png_ok "$T/b.png" && ok || bad "erase --box: $(cat "$T/e.txt")"
eb() { # description, exit code, text the error must contain, then erase args
  local d="$1" code="$2" want="$3"; shift 3
  "$P" erase "$@" > "$T/e.txt" 2>&1; local r=$?
  [ $r -eq "$code" ] && grep -qF -- "$want" "$T/e.txt" && ok || bad "erase $d: exit $r $(cat "$T/e.txt")"
}
eb "mask of another size" 1 "is 718x478 but the photo" "$G" -o "$T/x.png" --mask "$R/girl-2.general.png"
grep -q "600x399" "$T/e.txt" && ok || bad "mask size error names the photo size"
eb "empty mask" 1 "mask selects no pixel" "$G" -o "$T/x.png" --mask "$E/empty-600x399.png"
eb "full mask" 1 "mask selects every pixel" "$G" -o "$T/x.png" --mask "$E/full-600x399.png"
eb "point outside" 1 "point 600,10 is outside the 600x399 photo" "$G" -o "$T/x.png" --point 600,10
eb "negative point" 1 "outside the 600x399 photo" "$G" -o "$T/x.png" --point -1,10
eb "no person at the point" 1 "no person found at 10,10" "$G" -o "$T/x.png" --point 10,10
eb "box outside" 1 "box 700,0,50,50 is outside the 600x399 photo" "$G" -o "$T/x.png" --box 700,0,50,50
eb "no person in the box" 1 "no person found in the box" "$G" -o "$T/x.png" --box 450,0,100,40
eb "missing photo" 1 "/nonexistent.jpg" /nonexistent.jpg -o "$T/x.png" --point 1,1
eb "not an image" 1 "not an image" "$S/models/stories260K/tok512.bin" -o "$T/x.png" --point 1,1
eb "truncated photo" 1 "truncated JPEG" "$POCKET_SRC/fuzz/corpus/image/cut-half-rgb420.jpg" -o "$T/x.png" --point 1,1
eb "unknown output type" 1 "x.gif" "$G" -o "$T/x.gif" --point 217,270
eb "no selection" 2 "exactly one of" "$G" -o "$T/x.png"
eb "two selections" 2 "exactly one of" "$G" -o "$T/x.png" --point 1,1 --box 0,0,5,5
eb "bad point" 2 "bad value '1;2'" "$G" -o "$T/x.png" --point "1;2"
eb "no output" 2 "-o OUT" "$G" --point 217,270
[ ! -e "$T/x.png" ] && ok || bad "a failed erase wrote its output"
eb "output dir missing" 1 "$T/nodir/x.png" "$G" -o "$T/nodir/x.png" --point 217,270
cp "$T/e.png" "$T/keep.png"
eb "failure over an existing file" 1 "no person found" "$G" -o "$T/keep.png" --point 10,10
cmp -s "$T/e.png" "$T/keep.png" && ok || bad "a failed erase changed the existing output"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
