"""pytorch/examples word_language_model (model.py and data.py beside this file, unchanged but
for the import) on tensorlite beside PyTorch.

rows(steps) trains each model type (RNN_TANH, LSTM, GRU, Transformer) for `steps` batches of
main.py's train(): the program's own Corpus over data/tiny, batchify, get_batch (bptt 35),
NLLLoss, clip_grad_norm_(0.25) and the plain SGD update `p.data.add_(p.grad, alpha=-lr)`, from
the same initial weights (PyTorch's state_dict copied in), with dropout 0 (in nn.Transformer's layers too) so
that the runs are deterministic, once on tensorlite's numpy backend, once on its numba backend and once on
PyTorch, and returns the final losses (float32, the program's dtype):

    python examples/ports/word_language_model/compare.py [steps]
"""
import contextlib
import io
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from _twin_run import load_program  # noqa: E402

TYPES = ("RNN_TANH", "LSTM", "GRU", "Transformer")
# main.py's sizes, scaled down to the tiny corpus (seconds, not minutes); lr as the port's test
SIZES = dict(emsize=32, nhid=32, nlayers=2, nhead=2, dropout=0.0, bptt=35, batch_size=20,
             clip=0.25)


def _modules(use_torch):
    data = load_program(os.path.join(HERE, "data.py"), use_torch, run_name="wlm_data")
    model = load_program(os.path.join(HERE, "model.py"), use_torch, run_name="wlm_model")
    return data, model


def _build(model_mod, kind, ntokens, s):
    if kind == "Transformer":
        return model_mod.TransformerModel(ntokens, s["emsize"], s["nhead"], s["nhid"],
                                          s["nlayers"], s["dropout"])
    return model_mod.RNNModel(kind, ntokens, s["emsize"], s["nhid"], s["nlayers"], s["dropout"])


def _no_dropout(lib, model):
    """Dropout off everywhere (nn.Transformer's layers keep their default 0.1 whatever the
    program's --dropout), so that the two libraries' runs are deterministic and comparable."""
    for m in model.modules():
        if isinstance(m, lib.nn.Dropout):
            m.p = 0.0
        if isinstance(m, lib.nn.MultiheadAttention):
            m.dropout = 0.0
    return model


def _train(lib, model, kind, train_data, ntokens, steps, lr, s):
    """main.py's train() for the first `steps` batches; the losses."""
    _no_dropout(lib, model)
    def batchify(data, bsz):
        nbatch = data.size(0) // bsz
        return data.narrow(0, 0, nbatch * bsz).view(bsz, -1).t().contiguous()

    def repackage_hidden(h):
        return h.detach() if isinstance(h, lib.Tensor) else tuple(repackage_hidden(v) for v in h)

    source = batchify(train_data, s["batch_size"])
    criterion = lib.nn.NLLLoss()
    model.train()
    hidden = None if kind == "Transformer" else model.init_hidden(s["batch_size"])
    losses = []
    starts = list(range(0, source.size(0) - 1, s["bptt"]))
    for step in range(steps):
        i = starts[step % len(starts)]
        seq_len = min(s["bptt"], len(source) - 1 - i)
        data, targets = source[i:i + seq_len], source[i + 1:i + 1 + seq_len].view(-1)
        model.zero_grad()
        if kind == "Transformer":
            output = model(data).view(-1, ntokens)
        else:
            hidden = repackage_hidden(hidden)
            output, hidden = model(data, hidden)
        loss = criterion(output, targets)
        loss.backward()
        lib.nn.utils.clip_grad_norm_(model.parameters(), s["clip"])
        for p in model.parameters():
            p.data.add_(p.grad, alpha=-lr)
        losses.append(loss.item())
    return losses


def run(kind, steps, seed=1111, lr=2.0, **sizes):
    """Final losses (tensorlite numpy, tensorlite numba, PyTorch) after `steps` steps."""
    import tensorlite as tl
    import torch
    s = {**SIZES, **sizes}
    # (--lr 2: main.py's default 20 makes the first steps chaotic, the Transformer diverges,
    #  and float32 rounding then decides the loss)
    corpus_dir = os.path.join(HERE, "data", "tiny")
    with contextlib.redirect_stdout(io.StringIO()):
        t_data, t_model_mod = _modules(True)
        corpus = t_data.Corpus(corpus_dir)
        ntokens = len(corpus.dictionary)
        torch.manual_seed(seed)
        t_model = _build(t_model_mod, kind, ntokens, s)
        init = {k: v.detach().numpy().copy() for k, v in t_model.state_dict().items()}
        ours_data, ours_model_mod = _modules(False)
        out = []
        for backend in ("numpy", "numba"):
            with tl.use_backend(backend):
                ours_corpus = ours_data.Corpus(corpus_dir)
                model = _build(ours_model_mod, kind, ntokens, s)
                model.load_state_dict({k: tl.tensor(v) for k, v in init.items()})
                out.append(_train(tl, model, kind, ours_corpus.train, ntokens, steps, lr, s)[-1])
        out.append(_train(torch, t_model, kind, corpus.train, ntokens, steps, lr, s)[-1])
    return tuple(out)


def rows(steps: int) -> list[tuple[str, int, float, float, float]]:
    return [(f"word_language_model {k}", steps, *run(k, steps)) for k in TYPES]


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    for name, s, a, b, c in rows(n):
        print(f"| {name} | {s} | {a:.4f} | {b:.4f} | {c:.4f} |")
