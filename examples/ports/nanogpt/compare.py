"""nanoGPT (karpathy/nanoGPT model.py beside this file, with train.py's training step) on
tensorlite beside PyTorch.

rows(steps) trains a small character-level GPT on this repository's README.md for `steps`
steps of train.py's loop (AdamW groups of configure_optimizers, warmup + cosine learning rate,
clip_grad_norm_(1.0), zero_grad(set_to_none=True)), from the same initial weights (PyTorch's
state_dict copied in) on the same batches, once on tensorlite's numpy backend, once on its numba
backend and once on PyTorch, and returns the final losses (float32, the program's dtype):

    python examples/ports/nanogpt/compare.py [steps]
"""
import math
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
TEXT = os.path.join(HERE, "..", "..", "..", "README.md")
CONFIG = dict(block_size=32, n_layer=2, n_head=2, n_embd=64, dropout=0.0, bias=False)


def _load(use_torch):
    sys.path.insert(0, HERE)
    try:
        import train
        return train.load(use_torch)
    finally:
        sys.path.remove(HERE)


def _train(m, model, batches, steps, learning_rate=1e-3, min_lr=1e-4, warmup=5):
    torch = m.torch
    optimizer = model.configure_optimizers(0.1, learning_rate, (0.9, 0.99), "cpu")

    def get_lr(it):  # train.py's schedule
        if it < warmup:
            return learning_rate * (it + 1) / (warmup + 1)
        ratio = min(1.0, (it - warmup) / max(1, steps - warmup))
        return min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (learning_rate - min_lr)

    losses = []
    for it, (x, y) in enumerate(batches):
        for group in optimizer.param_groups:
            group["lr"] = get_lr(it)
        _, loss = model(torch.from_numpy(x), torch.from_numpy(y))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.item())
    return losses


def run(steps, seed=1337, batch_size=8):
    """Final losses (tensorlite numpy, tensorlite numba, PyTorch) after `steps` steps."""
    import contextlib
    import io

    import tensorlite as tl
    import torch
    text = open(TEXT, encoding="utf-8").read()
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    data = np.array([stoi[c] for c in text], dtype=np.int64)
    rng = np.random.default_rng(seed)
    bs = CONFIG["block_size"]
    batches = []
    for _ in range(steps):  # train.py's get_batch
        ix = rng.integers(0, len(data) - bs, batch_size)
        batches.append((np.stack([data[i:i + bs] for i in ix]),
                        np.stack([data[i + 1:i + 1 + bs] for i in ix])))
    theirs, ours = _load(True), _load(False)
    with contextlib.redirect_stdout(io.StringIO()):  # (GPT prints its size)
        torch.manual_seed(seed)
        t_model = theirs.GPT(theirs.GPTConfig(vocab_size=len(chars), **CONFIG))
        init = {k: v.detach().numpy().copy() for k, v in t_model.state_dict().items()}
        out = []
        for backend in ("numpy", "numba"):
            with tl.use_backend(backend):
                model = ours.GPT(ours.GPTConfig(vocab_size=len(chars), **CONFIG))
                model.load_state_dict({k: tl.tensor(v) for k, v in init.items()})
                out.append(_train(ours, model, batches, steps)[-1])
        out.append(_train(theirs, t_model, batches, steps)[-1])
    return tuple(out)


def rows(steps: int) -> list[tuple[str, int, float, float, float]]:
    return [("nanoGPT", steps, *run(steps))]


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    for name, s, a, b, c in rows(n):
        print(f"| {name} | {s} | {a:.4f} | {b:.4f} | {c:.4f} |")
