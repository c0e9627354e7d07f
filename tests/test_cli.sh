#!/usr/bin/env bash
# The pocket CLI as a user runs it: --help everywhere, the stories260K golden
# ids through `pocket run --ids`, tokenize, inspect, quantize, perplexity,
# convert-llama2c, and clean non-zero exits with messages on bad input.
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
for c in run tokenize inspect quantize imatrix perplexity bench convert-llama2c convert-raw; do
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
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
