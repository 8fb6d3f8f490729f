"""karpathy/makemore (examples/ports/makemore/makemore.py, only the import swapped) on tensorlite
trains as on PyTorch: every model type, from PyTorch's initial weights, on the same batches."""
import contextlib
import io
import os
import subprocess
import sys
import types

import numpy as np
import pytest
import torch

import tensorlite as tl

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAKEMORE = os.path.join(ROOT, "examples", "ports", "makemore")
sys.path.insert(0, MAKEMORE)
import compare  # noqa: E402  (examples/ports/makemore/compare.py)

sys.path.remove(MAKEMORE)

TYPES = compare.TYPES
SMALL = dict(n_layer=2, n_head=4, n_embd=32, n_embd2=32)  # a quicker Transformer/BoW/RNN


@pytest.fixture(params=["numpy", "numba"])
def backend(request):
    with tl.use_backend(request.param):
        yield request.param


def _pair(model_type, double):
    """makemore's model for model_type on tensorlite and on PyTorch with PyTorch's weights."""
    ours, theirs = compare.load(False), compare.load(True)
    ws = compare.words()
    with contextlib.redirect_stdout(io.StringIO()):
        torch.manual_seed(0)
        t_ds = compare.dataset(theirs, ws)
        t_model = compare.build(theirs, model_type, compare.config(theirs, t_ds, model_type, **SMALL))
        tl.manual_seed(0)
        ds = compare.dataset(ours, ws)
        model = compare.build(ours, model_type, compare.config(ours, ds, model_type, **SMALL))
    if double:
        t_model, model = t_model.double(), model.double()
    model.load_state_dict(compare.state_of(t_model, tl))
    return (ours, model, ds), (theirs, t_model, t_ds)


def _greedy(m, model, n, top_k=None, do_sample=False):
    steps = compare.dataset(m, compare.words()).get_output_length() - 1
    return m.generate(model, m.torch.zeros(n, 1, dtype=m.torch.long), steps, top_k=top_k,
                      do_sample=do_sample)


@pytest.mark.parametrize("model_type", TYPES)
def test_makemore_trains_as_on_torch(model_type, backend):
    # BoW's CausalBoW averages with torch.zeros((B, T, T)) (float32) @ x: PyTorch refuses a float64
    # x there, so BoW runs as the program runs it, in float32
    double = model_type != "bow"
    (ours, model, ds), (theirs, t_model, t_ds) = _pair(model_type, double)
    rng = np.random.default_rng(1)
    batches = rng.integers(0, len(ds), (4, 16))
    losses = compare.train(ours, model, ds, batches, lr=1e-2)
    t_losses = compare.train(theirs, t_model, t_ds, batches, lr=1e-2)
    rel = 1e-9 if double else 1e-5
    assert losses == pytest.approx(t_losses, rel=rel), (losses, t_losses)
    assert losses[-1] < losses[0]  # it learns (a large step size, so 4 steps show)
    for (k, v), (tk, tv) in zip(model.state_dict().items(), t_model.state_dict().items()):
        assert k == tk and v.dtype == getattr(tl, str(tv.dtype).split(".")[1])
        np.testing.assert_allclose(v.numpy(), tv.numpy(), rtol=1e-7 if double else 1e-4,
                                   atol=1e-9 if double else 1e-5, err_msg=k)

    # sampling, as print_samples does it: generate(..., top_k=..., do_sample=True) under no_grad
    model.eval()
    out = _greedy(ours, model, 5, top_k=3, do_sample=True)
    steps = ds.get_output_length() - 1
    assert out.shape == (5, 1 + steps) and out.dtype == tl.int64 and not out.requires_grad
    assert (out[:, 0] == 0).all() and ((out >= 0) & (out < ds.get_vocab_size())).all()
    words = [ds.decode(row[:row.index(0)] if 0 in row else row) for row in out[:, 1:].tolist()]
    assert all(isinstance(w, str) and len(w) <= steps for w in words)
    # top_k=1 leaves one candidate: sampling then is the argmax, so it equals greedy decoding,
    # which equals PyTorch's greedy decoding from the same weights
    greedy = _greedy(ours, model, 3)
    assert _greedy(ours, model, 3, top_k=1, do_sample=True).tolist() == greedy.tolist()
    t_model.eval()
    assert greedy.tolist() == _greedy(theirs, t_model, 3).tolist()


@pytest.mark.parametrize("model_type", ["mlp", "transformer"])
def test_makemore_evaluate_as_on_torch(model_type, backend):
    """evaluate(): inference_mode, a shuffling DataLoader, torch.tensor(losses).mean(); one batch
    holds the whole split so the shuffled order does not change the mean."""
    (ours, model, ds), (theirs, t_model, t_ds) = _pair(model_type, True)
    for m in (ours, theirs):
        m.args = types.SimpleNamespace(device="cpu")
    loss = ours.evaluate(model, ds, batch_size=len(ds))
    assert model.training
    assert loss == pytest.approx(theirs.evaluate(t_model, t_ds, batch_size=len(ds)), rel=1e-9)


def test_bow_refuses_float64_as_on_torch():
    """Why the BoW comparison runs in float32: its float32 averaging weights meet float64
    features in a matmul, which PyTorch refuses."""
    (ours, model, ds), (theirs, t_model, t_ds) = _pair("bow", True)
    X, _ = compare.batch(theirs, t_ds, [0, 1])
    with pytest.raises(RuntimeError):
        t_model(X)
    X, _ = compare.batch(ours, ds, [0, 1])
    with pytest.raises(RuntimeError, match="dtype"):
        model(X)


def _script(args, cwd):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", NUMBA_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, os.path.join(MAKEMORE, "makemore.py"), *args],
                          cwd=cwd, capture_output=True, text=True, timeout=600, env=env)


@pytest.mark.parametrize("model_type", TYPES)
def test_makemore_script_runs_as_written(model_type, tmp_path):
    """makemore.py run as a program: argparse, create_datasets, InfiniteDataLoader (a lazy
    RandomSampler over 1e10 samples; worker processes for the bigram), the training loop."""
    workers = "2" if model_type == "bigram" else "0"
    done = _script(["-i", os.path.join(MAKEMORE, "names.txt"), "-o", str(tmp_path), "--type",
                    model_type, "--max-steps", "11", "-n", workers, "--n-layer", "1",
                    "--n-embd", "16", "--n-embd2", "16"], tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [line for line in done.stdout.splitlines() if line.startswith("step ")]
    assert [line.split(" |")[0] for line in lines] == ["step 0", "step 10"]
    first, last = (float(line.split("loss ")[1].split(" |")[0]) for line in lines)
    assert 0 < last < first < 5


def test_makemore_sample_only(tmp_path):
    """--sample-only: torch.load of a saved state_dict, then print_samples (top-k sampling)."""
    ours = compare.load(False)
    ds = compare.dataset(ours, compare.words())
    with contextlib.redirect_stdout(io.StringIO()):
        model = compare.build(ours, "transformer", compare.config(ours, ds, "transformer"))
    tl.save(model.state_dict(), str(tmp_path / "model.pt"))
    done = _script(["-o", str(tmp_path), "--sample-only", "--top-k", "5"], MAKEMORE)
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout.split("-" * 80)[1].strip().splitlines()
    counts = [int(line.split()[0]) for line in out if "samples that are" in line]
    assert len(counts) == 3 and sum(counts) == 50
