"""nanoGPT's training loop (karpathy/nanoGPT train.py, condensed to one process on the CPU) on a
character-level dataset built from a local text file, with tensorlite imported as torch.

    python examples/ports/nanogpt/train.py                 # tensorlite, this repo's README
    python examples/ports/nanogpt/train.py --torch         # the same run on PyTorch
    python examples/ports/nanogpt/train.py --iters 200 --text some.txt

What is kept from train.py: get_batch, the AdamW groups of configure_optimizers, the cosine
learning-rate schedule with warmup, gradient clipping, estimate_loss over train/val splits, and
sampling with top-k at the end.  Left out: DDP, autocast/GradScaler, torch.compile, wandb,
checkpoint files.
"""
import argparse
import math
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def load(use_torch):
    if use_torch:
        sys.path.insert(0, HERE)
        import importlib.util
        src = open(os.path.join(HERE, "model.py")).read()
        src = src.replace("import tensorlite as torch", "import torch").replace(
            "import tensorlite.nn as nn", "import torch.nn as nn").replace(
            "from tensorlite.nn import functional as F", "from torch.nn import functional as F")
        spec = importlib.util.spec_from_loader("nanogpt_torch_model", loader=None)
        module = importlib.util.module_from_spec(spec)
        exec(compile(src, "model.py (torch)", "exec"), module.__dict__)
        return module
    sys.path.insert(0, HERE)
    import model
    return model


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--torch", action="store_true", help="run on PyTorch instead")
    p.add_argument("--text", default=os.path.join(HERE, "..", "..", "..", "README.md"))
    p.add_argument("--iters", type=int, default=100)
    p.add_argument("--eval-interval", type=int, default=50)
    p.add_argument("--seed", type=int, default=1337)
    args = p.parse_args(argv)
    m = load(args.torch)
    torch = m.torch
    torch.manual_seed(args.seed)

    text = open(args.text, encoding="utf-8").read()
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    data = np.array([stoi[c] for c in text], dtype=np.int64)
    n = int(0.9 * len(data))
    splits = {"train": data[:n], "val": data[n:]}
    block_size, batch_size = 64, 12
    rng = np.random.default_rng(args.seed)

    def get_batch(split):
        d = splits[split]
        ix = rng.integers(0, len(d) - block_size, batch_size)
        x = torch.from_numpy(np.stack([d[i:i + block_size] for i in ix]))
        y = torch.from_numpy(np.stack([d[i + 1:i + 1 + block_size] for i in ix]))
        return x, y

    config = m.GPTConfig(block_size=block_size, vocab_size=len(chars), n_layer=4, n_head=4,
                         n_embd=128, dropout=0.0, bias=False)
    model = m.GPT(config)
    learning_rate, min_lr, warmup, decay = 1e-3, 1e-4, 10, args.iters
    optimizer = model.configure_optimizers(0.1, learning_rate, (0.9, 0.99), "cpu")

    def get_lr(it):
        if it < warmup:
            return learning_rate * (it + 1) / (warmup + 1)
        ratio = min(1.0, (it - warmup) / max(1, decay - warmup))
        return min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (learning_rate - min_lr)

    @torch.no_grad()
    def estimate_loss(iters=5):
        out = {}
        model.eval()
        for split in ("train", "val"):
            losses = torch.zeros(iters)
            for k in range(iters):
                _, loss = model(*get_batch(split))
                losses[k] = loss.item()
            out[split] = losses.mean().item()
        model.train()
        return out

    start = time.time()
    for it in range(args.iters + 1):
        for group in optimizer.param_groups:
            group["lr"] = get_lr(it)
        if it % args.eval_interval == 0:
            losses = estimate_loss()
            print(f"step {it}: train loss {losses['train']:.4f}, val loss {losses['val']:.4f}")
        if it == args.iters:
            break
        x, y = get_batch("train")
        _, loss = model(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    print(f"{args.iters} iterations in {time.time() - start:.1f} s")
    model.eval()
    idx = model.generate(torch.zeros((1, 1), dtype=torch.long), 80, temperature=0.8, top_k=20)
    print("".join(chars[i] for i in idx[0].tolist()))
    return losses


if __name__ == "__main__":
    main()
