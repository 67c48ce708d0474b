#!/usr/bin/python3
"""The gptforge training step written in plain Python PyTorch, for bench/bench_train's comparison.

The same model as gptforge's `family: gpt2` (learned positions, pre-LayerNorm, biases unless
--no-bias as model.bias=false, separate q/k/v/o projections, tanh-GELU MLP of 4*d_model, LM head tied
to the token embedding, the same initialisation), the same batch drawn the same way (random windows of the token shard that
bench_train writes), the same loss (summed cross-entropy over the step's target count), the same
AdamW groups (weights decay; biases, norms and embeddings don't), the same gradient clipping.
Attention is the explicit masked softmax on torch 1.13, which has no fused kernel, and
F.scaled_dot_product_attention on torch 2.x, as nanoGPT does (--attention explicit keeps the masked
softmax). --compile wraps the model in torch.compile (torch 2.x; inductor generates fused C++ for the
CPU, compiled during the warm-up steps).

It is written the way a user would write it: torch.nn modules and torch.optim.AdamW with its
defaults (no foreach in 1.13 unless asked with --foreach).

    /usr/bin/python3 bench/reference_pytorch.py --data DIR --d-model 128 --layers 4 --heads 4 \
        --block 64 --batch 16 --threads 2 --warmup 5 --steps 20

Prints one JSON object: per-phase median milliseconds, tokens/s, peak resident memory.
"""
import argparse
import json
import math
import os
import resource
import statistics
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class LayerNorm(nn.Module):
    """LayerNorm with an optional bias, as nanoGPT's (torch 1.13's nn.LayerNorm has no bias=False)."""

    def __init__(self, d_model, bias):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d_model))
        self.bias = nn.Parameter(torch.zeros(d_model)) if bias else None

    def forward(self, x):
        return F.layer_norm(x, self.weight.shape, self.weight, self.bias, 1e-5)


class Attention(nn.Module):
    def __init__(self, d_model, n_head, block_size, bias):
        super().__init__()
        self.n_head = n_head
        self.q_proj = nn.Linear(d_model, d_model, bias=bias)
        self.k_proj = nn.Linear(d_model, d_model, bias=bias)
        self.v_proj = nn.Linear(d_model, d_model, bias=bias)
        self.o_proj = nn.Linear(d_model, d_model, bias=bias)
        self.register_buffer("future", torch.ones(block_size, block_size, dtype=torch.bool).triu(1))

    sdpa = False  # set from --attention in main

    def forward(self, x):
        B, T, C = x.shape
        hd = C // self.n_head
        q = self.q_proj(x).view(B, T, self.n_head, hd).transpose(1, 2)
        k = self.k_proj(x).view(B, T, self.n_head, hd).transpose(1, 2)
        v = self.v_proj(x).view(B, T, self.n_head, hd).transpose(1, 2)
        if Attention.sdpa:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            return self.o_proj(y.transpose(1, 2).reshape(B, T, C))
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hd))
        att = att.masked_fill(self.future[:T, :T], float("-inf"))
        att = F.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, C)
        return self.o_proj(y)


class MLP(nn.Module):
    def __init__(self, d_model, bias):
        super().__init__()
        self.fc = nn.Linear(d_model, 4 * d_model, bias=bias)
        self.proj = nn.Linear(4 * d_model, d_model, bias=bias)

    def forward(self, x):
        return self.proj(F.gelu(self.fc(x), approximate="tanh"))


class Block(nn.Module):
    def __init__(self, d_model, n_head, block_size, bias):
        super().__init__()
        self.ln_1 = LayerNorm(d_model, bias)
        self.attn = Attention(d_model, n_head, block_size, bias)
        self.ln_2 = LayerNorm(d_model, bias)
        self.mlp = MLP(d_model, bias)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, vocab, d_model, n_layer, n_head, block_size, bias=True):
        super().__init__()
        self.wte = nn.Embedding(vocab, d_model)
        self.wpe = nn.Embedding(block_size, d_model)
        self.h = nn.ModuleList([Block(d_model, n_head, block_size, bias) for _ in range(n_layer)])
        self.ln_f = LayerNorm(d_model, bias)
        resid_std = 0.02 / math.sqrt(2 * n_layer)
        for name, p in self.named_parameters():
            if name.endswith(".bias"):
                nn.init.zeros_(p)
            elif "ln_" in name:
                nn.init.ones_(p)
            elif name.endswith("o_proj.weight") or name.endswith("mlp.proj.weight"):
                nn.init.normal_(p, 0.0, resid_std)
            else:
                nn.init.normal_(p, 0.0, 0.02)

    def forward(self, idx):
        T = idx.size(1)
        x = self.wte(idx) + self.wpe.weight[:T]
        for block in self.h:
            x = block(x)
        return F.linear(self.ln_f(x), self.wte.weight)


def read_shard(path):
    # gptforge's shard: a 64-byte header (dtype bytes at offset 12), then the tokens.
    with open(path, "rb") as f:
        header = f.read(64)
    dtype = np.uint16 if int.from_bytes(header[12:16], "little") == 2 else np.uint32
    return np.memmap(path, dtype=dtype, mode="r", offset=64)


def get_batch(data, batch, block):
    ix = torch.randint(len(data) - block - 1, (batch,))
    x = torch.stack([torch.from_numpy(data[i : i + block].astype(np.int64)) for i in ix.tolist()])
    y = torch.stack([torch.from_numpy(data[i + 1 : i + 1 + block].astype(np.int64)) for i in ix.tolist()])
    return x, y


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True, help="directory with train_000000.bin (bench_train writes it)")
    ap.add_argument("--vocab", type=int, default=4096)
    ap.add_argument("--d-model", type=int, default=128)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--block", type=int, default=64)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--threads", type=int, default=0, help="intra-op threads, 0 = all cores")
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--foreach", action="store_true", help="AdamW(foreach=True) instead of the default loop")
    ap.add_argument("--attention", choices=["auto", "explicit", "sdpa"], default="auto",
                    help="auto: scaled_dot_product_attention where torch has it (2.x), else the masked softmax")
    ap.add_argument("--compile", action="store_true", help="torch.compile the model (torch 2.x)")
    ap.add_argument("--no-bias", action="store_true", help="no biases in linear layers and norms (nanoGPT's bias=False)")
    ap.add_argument("--seed", type=int, default=1337)
    ap.add_argument("--profile", type=int, default=0, metavar="N",
                    help="after timing, profile one step and print the N most expensive ops to stderr "
                         "(the same LibTorch ops gptforge's model runs: where the time goes per op)")
    args = ap.parse_args()

    torch.set_num_threads(args.threads or os.cpu_count())
    torch.manual_seed(args.seed)
    data = read_shard(os.path.join(args.data, "train_000000.bin"))
    model = GPT(args.vocab, args.d_model, args.layers, args.heads, args.block, bias=not args.no_bias)
    model.train()
    has_sdpa = hasattr(F, "scaled_dot_product_attention")
    if args.attention == "sdpa" and not has_sdpa:
        raise SystemExit(f"reference: --attention sdpa needs torch 2.x; this is {torch.__version__}")
    Attention.sdpa = args.attention == "sdpa" or (args.attention == "auto" and has_sdpa)
    if args.compile and not hasattr(torch, "compile"):
        raise SystemExit(f"reference: --compile needs torch 2.x; this is {torch.__version__}")
    step_model = torch.compile(model) if args.compile else model
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and not n.startswith(("wte", "wpe"))]
    rest = [p for n, p in model.named_parameters() if not (p.dim() >= 2 and not n.startswith(("wte", "wpe")))]
    groups = [{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}]
    extra = {"foreach": True} if args.foreach else {}
    opt = torch.optim.AdamW(groups, lr=1e-3, betas=(0.9, 0.95), eps=1e-8, **extra)
    params = [p for p in model.parameters()]

    phases = {"data": [], "forward": [], "backward": [], "optimizer": [], "step": []}
    for step in range(args.warmup + args.steps):
        t0 = time.perf_counter()
        x, y = get_batch(data, args.batch, args.block)
        t1 = time.perf_counter()
        logits = step_model(x)
        loss = F.cross_entropy(logits.view(-1, logits.size(-1)), y.view(-1), ignore_index=-1, reduction="sum")
        loss = loss / max(1, int((y != -1).sum()))
        t2 = time.perf_counter()
        loss.backward()
        t3 = time.perf_counter()
        if not math.isfinite(loss.item()):
            raise SystemExit("reference: non-finite loss")
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        t4 = time.perf_counter()
        if step >= args.warmup:
            for name, secs in zip(phases, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t4 - t0)):
                phases[name].append(secs)

    if args.profile:
        with torch.autograd.profiler.profile() as prof:
            x, y = get_batch(data, args.batch, args.block)
            logits = step_model(x)
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), y.view(-1), reduction="sum") / y.numel()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)
        import sys
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.profile), file=sys.stderr)

    median_ms = {name: 1000 * statistics.median(v) for name, v in phases.items()}
    tokens = args.batch * args.block
    print(json.dumps({
        "impl": "pytorch" + (" compiled" if args.compile else ""),
        "attention": "sdpa" if Attention.sdpa else "explicit",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "tokens_per_step": tokens,
        "step_ms": median_ms,
        "tokens_per_s": tokens / (median_ms["step"] / 1000),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "final_loss": float(loss),
    }))


if __name__ == "__main__":
    main()
