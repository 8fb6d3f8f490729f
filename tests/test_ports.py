"""Real PyTorch programs with only the import swapped (examples/ports/): each runs on
tensorlite and matches the same program on PyTorch from the same weights and data."""
import importlib
import os
import sys

import numpy as np
import pytest
import torch

import tensorlite as tl

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NANOGPT = os.path.join(ROOT, "examples", "ports", "nanogpt")


@pytest.fixture(params=["numpy", "numba"])
def backend(request):
    with tl.use_backend(request.param):
        yield request.param


def _nanogpt():
    sys.path.insert(0, NANOGPT)
    try:
        train = importlib.import_module("train")
        return train.load(False), train.load(True)
    finally:
        sys.path.remove(NANOGPT)


def test_nanogpt_trains_as_on_torch(backend):
    ours, theirs = _nanogpt()
    cfg = dict(block_size=16, vocab_size=29, n_layer=2, n_head=2, n_embd=32, dropout=0.0)
    for bias in (True, False):
        torch.manual_seed(0)
        t_model = theirs.GPT(theirs.GPTConfig(bias=bias, **cfg)).double()
        tl.manual_seed(0)
        model = ours.GPT(ours.GPTConfig(bias=bias, **cfg)).double()
        model.load_state_dict({k: tl.tensor(v.numpy()) for k, v in t_model.state_dict().items()})
        opts = [m.configure_optimizers(0.1, 3e-3, (0.9, 0.95), "cpu")
                for m in (model, t_model)]
        rng = np.random.default_rng(1)
        for step in range(4):
            ix = rng.integers(0, 29, (4, 17))
            losses = []
            for lib, m, opt in ((tl, model, opts[0]), (torch, t_model, opts[1])):
                x, y = lib.tensor(ix[:, :-1]), lib.tensor(ix[:, 1:])
                _, loss = m(x, y)
                loss.backward()
                lib.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
                opt.step()
                opt.zero_grad(set_to_none=True)
                losses.append(loss.item())
            assert losses[0] == pytest.approx(losses[1], rel=1e-9), (step, losses)
        for (k, v), (_, tv) in zip(model.state_dict().items(), t_model.state_dict().items()):
            np.testing.assert_allclose(v.numpy(), tv.numpy(), rtol=1e-7, atol=1e-9, err_msg=k)
        model.eval()
        out = model.generate(tl.zeros((2, 1), dtype=tl.long), 5, temperature=0.8, top_k=3)
        assert out.shape == (2, 6) and out.dtype == tl.int64


def test_nanogpt_training_script_runs(tmp_path, capsys):
    sys.path.insert(0, NANOGPT)
    try:
        train = importlib.import_module("train")
    finally:
        sys.path.remove(NANOGPT)
    text = tmp_path / "tiny.txt"
    text.write_text("the quick brown fox jumps over the lazy dog. " * 40)
    losses = train.main(["--iters", "4", "--eval-interval", "2", "--text", str(text)])
    assert set(losses) == {"train", "val"} and all(np.isfinite(list(losses.values())))
    assert "4 iterations" in capsys.readouterr().out


WLM = os.path.join(ROOT, "examples", "ports", "word_language_model")


@pytest.mark.parametrize("model", ["LSTM", "GRU", "RNN_TANH", "Transformer"])
def test_word_language_model_runs_as_written(model, tmp_path):
    """pytorch/examples word_language_model/main.py, unchanged but for the import: it trains,
    saves the whole model, loads it back through torch.serialization.safe_globals, and tests."""
    import subprocess
    cmd = [sys.executable, "main.py", "--data", "data/tiny", "--epochs", "1", "--model", model,
           "--emsize", "16", "--nhid", "16", "--nlayers", "1", "--bptt", "10",
           "--batch_size", "10", "--save", str(tmp_path / "model.pt"),
           "--lr", "1" if model == "Transformer" else "20"]  # (20, the default, diverges it)
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
    done = subprocess.run(cmd, cwd=WLM, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    test_line = [line for line in done.stdout.splitlines() if "End of training" in line]
    loss = float(test_line[0].split("test loss")[1].split("|")[0])
    assert 0 < loss < np.log(1100)  # it learned something: below a uniform guess over the vocabulary
