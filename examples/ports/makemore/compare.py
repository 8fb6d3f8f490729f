"""makemore (karpathy/makemore, makemore.py beside this file) on tensorlite beside PyTorch.

rows(steps) trains every model type of makemore for `steps` AdamW steps with the program's own
classes, optimizer settings (AdamW lr 5e-4, weight decay 0.01, betas (0.9, 0.99), eps 1e-8) and
training step (forward with targets, zero_grad(set_to_none=True), backward, step), from the same
initial weights (PyTorch's state_dict copied in) on the same batches of names.txt, once on
tensorlite's numpy backend, once on its numba backend and once on PyTorch, and returns the
final losses:

    python examples/ports/makemore/compare.py [steps]

load(use_torch) gives makemore.py's module bound to tensorlite (as written) or to PyTorch (the
same source with the imports swapped back); tests/test_ports_makemore.py uses it too.
"""
import importlib.util
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
TYPES = ("bigram", "mlp", "rnn", "gru", "bow", "transformer")
_SWAP = (("import tensorlite as torch", "import torch"),
         ("import tensorlite.nn as nn", "import torch.nn as nn"),
         ("from tensorlite.nn import functional as F", "from torch.nn import functional as F"),
         ("from tensorlite.utils.data import Dataset", "from torch.utils.data import Dataset"),
         ("from tensorlite.utils.data.dataloader import", "from torch.utils.data.dataloader import"),
         ("from tensorlite.utils.tensorboard import", "from torch.utils.tensorboard import"))
_loaded: dict = {}


def load(use_torch: bool):
    """makemore.py as a module (not run as __main__), bound to PyTorch or to tensorlite."""
    if use_torch in _loaded:
        return _loaded[use_torch]
    src = open(os.path.join(HERE, "makemore.py")).read()
    if use_torch:
        lines = src.splitlines(keepends=True)
        for ours, theirs in _SWAP:  # the import lines (at the start of a line) only
            at = [i for i, line in enumerate(lines) if line.lstrip().startswith(ours)]
            assert len(at) == 1, ours
            lines[at[0]] = lines[at[0]].replace(ours, theirs)
        src = "".join(lines)
    name = "makemore_torch" if use_torch else "makemore_tensorlite"
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(name, loader=None))
    module.__file__ = os.path.join(HERE, "makemore.py")
    sys.modules[name] = module  # (dataclasses look the module up)
    exec(compile(src, f"makemore.py ({'torch' if use_torch else 'tensorlite'})", "exec"),
         module.__dict__)
    _loaded[use_torch] = module
    return module


def words(path=os.path.join(HERE, "names.txt")):
    """The words of the input file, cleaned as create_datasets does (without its random split)."""
    ws = [w.strip() for w in open(path).read().splitlines()]
    return [w for w in ws if w]


def dataset(m, ws):
    chars = sorted(set("".join(ws)))
    return m.CharDataset(ws, chars, max(len(w) for w in ws))


def config(m, ds, model_type, **kw):
    kw = {**dict(n_layer=4, n_head=4, n_embd=64, n_embd2=64), **kw}  # makemore's defaults
    return m.ModelConfig(vocab_size=ds.get_vocab_size(), block_size=ds.get_output_length(), **kw)


def build(m, model_type, cfg):
    """The model as makemore's __main__ builds it for --type model_type."""
    if model_type == "transformer":
        return m.Transformer(cfg)
    if model_type == "bigram":
        return m.Bigram(cfg)
    if model_type == "mlp":
        return m.MLP(cfg)
    if model_type in ("rnn", "gru"):
        return m.RNN(cfg, cell_type=model_type)
    if model_type == "bow":
        return m.BoW(cfg)
    raise ValueError(f"model type {model_type} is not recognized")


def batch(m, ds, ix):
    """The batch the DataLoader collates from the dataset items ix."""
    xs, ys = zip(*(ds[int(i)] for i in ix))
    return m.torch.stack(xs), m.torch.stack(ys)


def state_of(torch_model, lib):
    """torch_model's state_dict as tensors of lib (tensorlite or torch)."""
    return {k: lib.tensor(v.detach().numpy()) for k, v in torch_model.state_dict().items()}


def train(m, model, ds, batches, lr=5e-4, weight_decay=0.01):
    """makemore's training loop over the given batches of dataset indices; the losses."""
    torch = m.torch
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay,
                                  betas=(0.9, 0.99), eps=1e-8)
    losses = []
    for ix in batches:
        X, Y = batch(m, ds, ix)
        logits, loss = model(X, Y)
        model.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def run(model_type, steps, batch_size=32, seed=3407, **cfg):
    """Final losses (tensorlite numpy, tensorlite numba, PyTorch) after `steps` steps, float32
    (the program's dtype), from PyTorch's initial weights for `seed` on the same batches."""
    import contextlib
    import io

    import tensorlite as tl
    import torch
    ws = words()
    batches = np.random.default_rng(seed).integers(0, len(ws), (steps, batch_size))
    theirs, ours = load(True), load(False)
    with contextlib.redirect_stdout(io.StringIO()):  # (Transformer prints its size)
        torch.manual_seed(seed)
        t_ds = dataset(theirs, ws)
        t_model = build(theirs, model_type, config(theirs, t_ds, model_type, **cfg))
        init = {k: v.clone() for k, v in t_model.state_dict().items()}
        out = []
        for backend in ("numpy", "numba"):
            with tl.use_backend(backend):
                ds = dataset(ours, ws)
                model = build(ours, model_type, config(ours, ds, model_type, **cfg))
                model.load_state_dict({k: tl.tensor(v.numpy()) for k, v in init.items()})
                out.append(train(ours, model, ds, batches)[-1])
        out.append(train(theirs, t_model, t_ds, batches)[-1])
    return tuple(out)


def rows(steps: int) -> list[tuple[str, int, float, float, float]]:
    return [(f"makemore {t}", steps, *run(t, steps)) for t in TYPES]


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    for name, s, a, b, c in rows(n):
        print(f"| {name} | {s} | {a:.4f} | {b:.4f} | {c:.4f} |")
