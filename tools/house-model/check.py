#!/usr/bin/python3
"""Check an exported house model: greedy continuation of a prompt by the
PyTorch model from the checkpoint (float32) against `pocket run --temp 0
--ids` and, when given, llama.cpp's llama-simple on the GGUF.

usage: /usr/bin/python3 check.py CONFIG CKPT TOKENIZER_MODEL GGUF POCKET [LLAMA_SIMPLE [VAL_TEXT]]"""
import json, subprocess, sys

import sentencepiece as spm
import torch

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from train import Model  # noqa: E402

cfg, ckpt, tokp, gguf, pocket = sys.argv[1:6]
llama = sys.argv[6] if len(sys.argv) > 6 else None
c = json.load(open(cfg))
m = Model(c)
m.load_state_dict(torch.load(ckpt, map_location="cpu")["model"])
m.eval()
sp = spm.SentencePieceProcessor(model_file=tokp)
prompt = "Okay, let's start the meeting."
ids = [sp.bos_id()] + sp.encode(prompt)
n = 24
with torch.no_grad():
    for _ in range(n):
        logits = m(torch.tensor([ids]))[0, -1]
        ids.append(int(logits.argmax()))
torch_ids = ids[-n:]
out = subprocess.run([pocket, "run", "-m", gguf, "-p", prompt, "-n", str(n), "--temp", "0", "--ids"],
                     capture_output=True, text=True, check=True).stdout.split()
pocket_ids = [int(x) for x in out]
print("torch :", torch_ids)
print("pocket:", pocket_ids)
print("torch text :", sp.decode(torch_ids))
same = torch_ids == pocket_ids
print("pocket equals torch:", same)
if llama:
    r = subprocess.run([llama, "-m", gguf, "-n", str(n), prompt], capture_output=True, text=True).stdout
    print("llama.cpp text:", r.strip())
    print("llama.cpp equals torch:", r.strip().endswith(sp.decode(torch_ids).strip()))
# perplexity of one window of held-out text, scored as pocket scores it
# (BOS first, the second half of the window)
val = sys.argv[7] if len(sys.argv) > 7 else None
if val:
    text = open(val, encoding="utf-8").read()
    toks = [sp.bos_id()] + sp.encode(text)
    T = 256
    w = toks[:T]
    with torch.no_grad():
        lp = torch.log_softmax(m(torch.tensor([w]))[0], -1)
    nll = [-float(lp[i, w[i + 1]]) for i in range(T // 2, T - 1)]
    ppl_t = float(torch.tensor(nll).mean().exp())
    with open("/tmp/_pk_val_window.txt", "w", encoding="utf-8") as f:
        f.write(text)
    r = subprocess.run([pocket, "perplexity", "-m", gguf, "-f", val, "--ctx", str(T), "--chunks", "1"],
                       capture_output=True, text=True).stdout
    ppl_p = float(r.split()[1])
    print(f"window perplexity: torch {ppl_t:.4f}, pocket {ppl_p:.4f} ({100 * (ppl_p / ppl_t - 1):+.3f}%)")
    same = same and abs(ppl_p / ppl_t - 1) < 0.01
sys.exit(0 if same else 1)
