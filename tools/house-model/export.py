#!/usr/bin/python3
"""Export a house-model checkpoint for pocket's GGUF writer: a JSON manifest
(llama metadata, the Llama-2 SentencePiece vocabulary, tensor names in
llama.cpp's GGUF naming with ggml-order shapes) and one raw fp32 file. Then
`pocket convert-raw MANIFEST OUT.gguf --type f16` writes the GGUF.

usage: /usr/bin/python3 export.py CONFIG CKPT TOKENIZER_MODEL OUT_DIR [NAME]"""
import json, os, sys

import numpy as np
import sentencepiece as spm
import torch


def main():
    cfg_path, ckpt, tok_path, out = sys.argv[1:5]
    name = sys.argv[5] if len(sys.argv) > 5 else "pocket-house"
    c = json.load(open(cfg_path))
    sd = torch.load(ckpt, map_location="cpu")["model"]
    os.makedirs(out, exist_ok=True)
    sp = spm.SentencePieceProcessor(model_file=tok_path)
    n = sp.get_piece_size()
    types = []
    for i in range(n):
        types.append(3 if sp.is_control(i) else 2 if sp.is_unknown(i) else 6 if sp.is_byte(i)
                     else 5 if sp.is_unused(i) else 1)
    hd = c["dim"] // c["n_heads"]
    meta = {
        "general.architecture": {"type": "str", "value": "llama"},
        "general.name": {"type": "str", "value": name},
        "llama.context_length": {"type": "u32", "value": c["seq_len"]},
        "llama.embedding_length": {"type": "u32", "value": c["dim"]},
        "llama.block_count": {"type": "u32", "value": c["n_layers"]},
        "llama.feed_forward_length": {"type": "u32", "value": c["ffn_dim"]},
        "llama.rope.dimension_count": {"type": "u32", "value": hd},
        "llama.attention.head_count": {"type": "u32", "value": c["n_heads"]},
        "llama.attention.head_count_kv": {"type": "u32", "value": c["n_kv_heads"]},
        "llama.attention.layer_norm_rms_epsilon": {"type": "f32", "value": c["norm_eps"]},
        "llama.rope.freq_base": {"type": "f32", "value": c["rope_theta"]},
        "llama.vocab_size": {"type": "u32", "value": n},
        "tokenizer.ggml.model": {"type": "str", "value": "llama"},
        "tokenizer.ggml.tokens": {"type": "arr_str", "value": [sp.id_to_piece(i) for i in range(n)]},
        "tokenizer.ggml.scores": {"type": "arr_f32", "value": [sp.get_score(i) for i in range(n)]},
        "tokenizer.ggml.token_type": {"type": "arr_i32", "value": types},
        "tokenizer.ggml.bos_token_id": {"type": "u32", "value": sp.bos_id()},
        "tokenizer.ggml.eos_token_id": {"type": "u32", "value": sp.eos_id()},
        "tokenizer.ggml.unknown_token_id": {"type": "u32", "value": sp.unk_id()},
        "tokenizer.ggml.add_bos_token": {"type": "bool", "value": True},
        "tokenizer.ggml.add_eos_token": {"type": "bool", "value": False},
    }
    names = [("tok.weight", "token_embd.weight")]
    for l in range(c["n_layers"]):
        p = f"blocks.{l}."
        names += [(p + "attn_norm.weight", f"blk.{l}.attn_norm.weight"),
                  (p + "wq.weight", f"blk.{l}.attn_q.weight"),
                  (p + "wk.weight", f"blk.{l}.attn_k.weight"),
                  (p + "wv.weight", f"blk.{l}.attn_v.weight"),
                  (p + "wo.weight", f"blk.{l}.attn_output.weight"),
                  (p + "ffn_norm.weight", f"blk.{l}.ffn_norm.weight"),
                  (p + "w_gate.weight", f"blk.{l}.ffn_gate.weight"),
                  (p + "w_up.weight", f"blk.{l}.ffn_up.weight"),
                  (p + "w_down.weight", f"blk.{l}.ffn_down.weight")]
    names.append(("norm.weight", "output_norm.weight"))
    tensors, off = [], 0
    with open(os.path.join(out, "tensors.bin"), "wb") as f:
        for src, dst in names:
            a = sd[src].float().numpy().astype("<f4")
            # torch (out, in) row-major is ggml (ne0 = in, ne1 = out)
            shape = list(reversed(a.shape))
            f.write(a.tobytes())
            tensors.append({"name": dst, "shape": shape, "offset": off})
            off += a.nbytes
    json.dump({"data": "tensors.bin", "metadata": meta, "tensors": tensors},
              open(os.path.join(out, "manifest.json"), "w", encoding="utf-8"), ensure_ascii=False)
    print(f"wrote {len(tensors)} tensors, {off} bytes")


if __name__ == "__main__":
    main()
