#!/usr/bin/python3
"""Train the house model: a Llama-architecture transformer computed exactly
as llama.cpp's `llama` architecture computes it (RMSNorm, RoPE rotating
adjacent pairs as GGUF's "normal" rope type does, SwiGLU, grouped-query
attention, no biases, tied embeddings), on the QMSum transcripts prepared by
prepare.py. Deterministic for a seed; resumable from its checkpoint.

usage: /usr/bin/python3 train.py CONFIG DATA_DIR OUT_DIR [--resume] [--steps N]
"""
import argparse, json, math, os, time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_tables(head_dim, seq_len, theta):
    inv = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim))
    ang = torch.outer(torch.arange(seq_len, dtype=torch.float64), inv)
    return torch.cos(ang).float(), torch.sin(ang).float()


def apply_rope(x, cos, sin):
    # x (B, T, H, D): rotate adjacent pairs (x[2i], x[2i+1])
    x0, x1 = x[..., 0::2], x[..., 1::2]
    c, s = cos[None, :, None, :], sin[None, :, None, :]
    return torch.stack((x0 * c - x1 * s, x0 * s + x1 * c), dim=-1).flatten(-2)


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, h, kv = c["dim"], c["n_heads"], c["n_kv_heads"]
        self.h, self.kv, self.hd = h, kv, d // h
        self.attn_norm = RMSNorm(d, c["norm_eps"])
        self.wq = nn.Linear(d, h * self.hd, bias=False)
        self.wk = nn.Linear(d, kv * self.hd, bias=False)
        self.wv = nn.Linear(d, kv * self.hd, bias=False)
        self.wo = nn.Linear(h * self.hd, d, bias=False)
        self.ffn_norm = RMSNorm(d, c["norm_eps"])
        self.w_gate = nn.Linear(d, c["ffn_dim"], bias=False)
        self.w_up = nn.Linear(d, c["ffn_dim"], bias=False)
        self.w_down = nn.Linear(c["ffn_dim"], d, bias=False)

    def forward(self, x, cos, sin):
        B, T, _ = x.shape
        y = self.attn_norm(x)
        q = apply_rope(self.wq(y).view(B, T, self.h, self.hd), cos, sin)
        k = apply_rope(self.wk(y).view(B, T, self.kv, self.hd), cos, sin)
        v = self.wv(y).view(B, T, self.kv, self.hd)
        rep = self.h // self.kv
        k = k.repeat_interleave(rep, dim=2)  # kv head j serves q heads j*rep..
        v = v.repeat_interleave(rep, dim=2)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)  # (B, H, T, D)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(self.hd))
        mask = torch.ones(T, T, dtype=torch.bool).triu(1)
        att = att.masked_fill(mask, float("-inf")).softmax(-1)
        a = att @ v
        x = x + self.wo(a.transpose(1, 2).reshape(B, T, -1))
        y = self.ffn_norm(x)
        return x + self.w_down(F.silu(self.w_gate(y)) * self.w_up(y))


class Model(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.tok = nn.Embedding(c["vocab_size"], c["dim"])
        self.blocks = nn.ModuleList(Block(c) for _ in range(c["n_layers"]))
        self.norm = RMSNorm(c["dim"], c["norm_eps"])
        cos, sin = rope_tables(c["dim"] // c["n_heads"], c["seq_len"], c["rope_theta"])
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)
        nn.init.normal_(self.tok.weight, std=0.02)
        for n, p in self.named_parameters():
            if p.dim() == 2 and "tok" not in n:
                std = 0.02 / math.sqrt(2 * c["n_layers"]) if n.endswith(("wo.weight", "w_down.weight")) else 0.02
                nn.init.normal_(p, std=std)

    def forward(self, idx):
        T = idx.shape[1]
        x = self.tok(idx)
        for b in self.blocks:
            x = b(x, self.cos[:T], self.sin[:T])
        return F.linear(self.norm(x), self.tok.weight)  # tied output


def batch(data, rng, B, T):
    starts = rng.integers(0, len(data) - T - 1, size=B)
    x = np.stack([data[s:s + T] for s in starts]).astype(np.int64)
    y = np.stack([data[s + 1:s + T + 1] for s in starts]).astype(np.int64)
    return torch.from_numpy(x), torch.from_numpy(y)


def lr_at(step, c):
    if step < c["warmup_steps"]:
        return c["lr"] * (step + 1) / c["warmup_steps"]
    p = min(1.0, (step - c["warmup_steps"]) / max(1, c["max_steps"] - c["warmup_steps"]))
    return c["min_lr"] + 0.5 * (c["lr"] - c["min_lr"]) * (1 + math.cos(math.pi * p))


@torch.no_grad()
def evaluate(model, data, c, seed):
    rng = np.random.default_rng(seed)
    model.eval()
    losses = []
    for _ in range(c["eval_batches"]):
        x, y = batch(data, rng, c["batch_size"], c["seq_len"])
        losses.append(F.cross_entropy(model(x).flatten(0, 1), y.flatten()).item())
    model.train()
    return sum(losses) / len(losses)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("config")
    ap.add_argument("data")
    ap.add_argument("out")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--steps", type=int, default=0, help="stop after this many steps (0 = max_steps)")
    a = ap.parse_args()
    c = json.load(open(a.config))
    os.makedirs(a.out, exist_ok=True)
    torch.set_num_threads(c["threads"])
    torch.manual_seed(c["seed"])
    torch.use_deterministic_algorithms(True)
    train = np.fromfile(os.path.join(a.data, "train.bin"), dtype=np.uint16)
    val = np.fromfile(os.path.join(a.data, "val.bin"), dtype=np.uint16)
    model = Model(c)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    other = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": c["weight_decay"]},
                             {"params": other, "weight_decay": 0.0}], lr=c["lr"], betas=(0.9, 0.95))
    step = 0
    ckpt = os.path.join(a.out, "ckpt.pt")
    log_path = os.path.join(a.out, "train_log.txt")
    if a.resume and os.path.exists(ckpt):
        s = torch.load(ckpt)
        model.load_state_dict(s["model"])
        opt.load_state_dict(s["opt"])
        step = s["step"]
    # the data order depends only on the seed and the step: resuming continues it
    end = a.steps if a.steps else c["max_steps"]
    log = open(log_path, "a")
    if step == 0:
        n_params = sum(p.numel() for p in model.parameters())
        log.write(f"# params {n_params} config {json.dumps(c)}\n")
    t0 = time.time()
    while step < end:
        rng = np.random.default_rng([c["seed"], step])
        x, y = batch(train, rng, c["batch_size"], c["seq_len"])
        for g in opt.param_groups:
            g["lr"] = lr_at(step, c)
        loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        line = f"step {step} loss {loss.item():.4f} lr {lr_at(step - 1, c):.6f}"
        if step % c["eval_every"] == 0 or step == c["max_steps"]:
            line += f" val {evaluate(model, val, c, c['seed'] + 1):.4f}"
        tok_s = step and (c["batch_size"] * c["seq_len"]) / max(1e-9, (time.time() - t0))
        t0 = time.time()
        log.write(line + f" tok/s {tok_s:.0f}\n")
        log.flush()
        if step % c["checkpoint_every"] == 0 or step == end:
            torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step}, ckpt + ".tmp")
            os.replace(ckpt + ".tmp", ckpt)
    log.close()


if __name__ == "__main__":
    main()
