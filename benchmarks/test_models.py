"""Training steps of real programs: the pytorch/examples mnist CNN (Adadelta), the VAE (Adam), a
ResNet-18-style block stack (SGD with momentum) and a small nanoGPT (AdamW).

The models come from the ports in examples/ports/ (written with ``import tensorlite as torch``),
loaded bound to either library by ``_twin_run.load_program``, so tensorlite (on each backend) and
PyTorch run the same model code; only the ResNet block stack, which has no port, is written here,
once, over the ``nn`` it is given.  Every row starts from PyTorch's initial weights and the same
batch.  A step is what the program's training loop does per batch: zero_grad, forward, the
program's loss, backward, optimizer step.

Checked before timing: two steps with the randomness turned off (dropout in eval mode, the VAE's
noise zero) must give PyTorch's float64 loss and parameters.  The ``*_interleaved`` cases (run
once, as the tensorlite-numba row) time tensorlite-numba, tensorlite-numpy and PyTorch in one
process each, taking turns block after block; their median ratios are the figures to read on a
loaded machine.  No hand-written row: these are whole programs.

Run as ``python benchmarks/test_models.py --worker MODEL IMPL``, this file is that worker.
"""
import contextlib
import functools
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import tensorlite as tl
from conftest import Impl, assert_close, record_interleaved, sizes, skip_reason
from interleave import Workers, alternate, serve

PORTS = Path(__file__).resolve().parents[1] / "examples" / "ports"
if str(PORTS) not in sys.path:
    sys.path.insert(0, str(PORTS))
from _twin_run import chdir, load_program, patched  # noqa: E402

# per model and mode: (sizes, interleaved rounds, steps per round)
SIZES = {
    "mnist": sizes(full=({"batch": 64}, 10, 3), quick=({"batch": 8}, 2, 1),
                   tiny=({"batch": 2}, 2, 1)),
    "vae": sizes(full=({"batch": 128}, 10, 5), quick=({"batch": 64}, 3, 2),
                 tiny=({"batch": 4}, 2, 1)),
    "resnet": sizes(full=({"batch": 32, "hw": 32, "widths": (16, 32), "blocks": 2}, 10, 3),
                    quick=({"batch": 8, "hw": 16, "widths": (8, 16), "blocks": 1}, 3, 2),
                    tiny=({"batch": 2, "hw": 8, "widths": (4, 8), "blocks": 1}, 2, 1)),
    "gpt": sizes(full=({"batch": 16, "n_layer": 4, "n_head": 4, "n_embd": 128, "block_size": 64},
                       10, 3),
                 quick=({"batch": 4, "n_layer": 2, "n_head": 4, "n_embd": 64, "block_size": 32},
                        3, 2),
                 tiny=({"batch": 2, "n_layer": 1, "n_head": 2, "n_embd": 8, "block_size": 4},
                       2, 1)),
}
VOCAB = 65  # nanoGPT's shakespeare_char


@functools.cache
def port(name, use_torch):
    """The port's module (its globals), bound to PyTorch or to tensorlite."""
    with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
        if name == "mnist":
            return load_program(str(PORTS / "mnist" / "main.py"), use_torch,
                                run_name="bench_mnist_main")
        if name == "vae":  # builds its (small, local) data loaders at import
            with chdir(str(PORTS / "vae")):
                return load_program(str(PORTS / "vae" / "main.py"), use_torch,
                                    ["--batch-size", "8"], run_name="bench_vae_main")
        return load_program(str(PORTS / "nanogpt" / "model.py"), use_torch,
                            run_name="bench_nanogpt_model")


# -- the ResNet-18-style block stack (no port: written once, over the nn it is given) ----------
def resnet(nn, widths, blocks, classes=10):
    """conv3x3-BN-ReLU stem, then ``blocks`` BasicBlocks per width (the first of each new width
    with stride 2 and a 1x1 conv + BN downsample), global average pool, linear."""
    class BasicBlock(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.relu = nn.ReLU()
            self.downsample = None
            if stride != 1 or cin != cout:
                self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                                nn.BatchNorm2d(cout))

        def forward(self, x):
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            identity = x if self.downsample is None else self.downsample(x)
            return self.relu(out + identity)

    layers = [nn.Conv2d(3, widths[0], 3, 1, 1, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU()]
    cin = widths[0]
    for i, width in enumerate(widths):
        for b in range(blocks):
            layers.append(BasicBlock(cin, width, 2 if i and not b else 1))
            cin = width
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, classes)]
    return nn.Sequential(*layers)


# -- one description per model: build, data, step ---------------------------------------------
def _build(name, lib, use_torch, size):
    """(model, optimizer factory, loss(model, batch)) on ``lib``, its weights random."""
    F = lib.nn.functional
    if name == "mnist":
        mod = port("mnist", use_torch)
        return (mod.Net(), lambda m: lib.optim.Adadelta(m.parameters(), lr=1.0),
                lambda m, b: F.nll_loss(m(b[0]), b[1]))
    if name == "vae":
        mod = port("vae", use_torch)
        return (mod.VAE(), lambda m: lib.optim.Adam(m.parameters(), lr=1e-3),
                lambda m, b: _vae_loss(mod, m, b[0]))
    if name == "resnet":
        return (resnet(lib.nn, size["widths"], size["blocks"]),
                lambda m: lib.optim.SGD(m.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4),
                lambda m, b: F.cross_entropy(m(b[0]), b[1]))
    mod = port("gpt", use_torch)
    config = mod.GPTConfig(n_layer=size["n_layer"], n_head=size["n_head"], n_embd=size["n_embd"],
                           block_size=size["block_size"], vocab_size=VOCAB, dropout=0.0,
                           bias=True)
    with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
        model = mod.GPT(config)

    def optimizer(m):
        with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
            return m.configure_optimizers(0.1, 1e-3, (0.9, 0.95), "cpu")
    return model, optimizer, lambda m, b: m(b[0], b[1])[1]


def _vae_loss(mod, model, x):
    recon, mu, logvar = model(x)
    return mod.loss_function(recon, x, mu, logvar)


def _batch(name, size):
    """The batch (NumPy arrays): inputs, then targets where the loss has them."""
    rng = np.random.default_rng(7)
    n = size["batch"]
    if name == "mnist":
        return ((rng.standard_normal((n, 1, 28, 28)).astype(np.float32)),
                rng.integers(0, 10, n))
    if name == "vae":
        return (rng.uniform(0, 1, (n, 1, 28, 28)).astype(np.float32),)
    if name == "resnet":
        return (rng.standard_normal((n, 3, size["hw"], size["hw"])).astype(np.float32),
                rng.integers(0, 10, n))
    t = size["block_size"]
    tokens = rng.integers(0, VOCAB, (n, t + 1))
    return tokens[:, :-1], tokens[:, 1:]


@functools.cache
def _initial(name, size_items):
    """PyTorch's initial weights for the model: every row starts from these."""
    import torch
    torch.manual_seed(0)
    model = _build(name, torch, True, dict(size_items))[0]
    return [p.detach().numpy().copy() for p in model.parameters()]


def _deterministic(name, lib, model):
    """The block without the model's randomness: dropout off (eval mode; the mnist Net has no
    other train/eval difference), the VAE's noise zero."""
    if name == "mnist":
        @contextlib.contextmanager
        def evaluating():
            model.eval()
            try:
                yield
            finally:
                model.train()
        return evaluating()
    if name == "vae":
        return patched((lib, "randn_like", lambda t, **kw: lib.zeros_like(t)))
    return contextlib.nullcontext()


def make_step(name, impl, size, dtype=None):
    """(step, parameters, model) of ``name`` on ``impl`` (tensorlite or torch: the same code),
    from PyTorch's initial weights; ``dtype`` float64 for the reference."""
    lib = impl.lib
    model, optimizer, loss_of = _build(name, lib, impl.kind == "torch", size)
    arrays = _initial(name, tuple(sorted(size.items())))
    if dtype is not None:
        model = model.to(dtype)
        arrays = [a.astype(np.float64) for a in arrays]
    model = model.to(impl.device)
    impl.load_(model.parameters(), arrays)
    model.train()
    opt = optimizer(model)
    batch = [impl.array(a.astype(np.float64) if dtype is not None and a.dtype == np.float32
                        else a) for a in _batch(name, size)]

    def step():
        opt.zero_grad()
        loss = loss_of(model, batch)
        loss.backward()
        opt.step()
        return loss
    return step, lambda: list(model.parameters()), model


@functools.cache
def _reference(name, size_items):
    """PyTorch in float64, two steps without randomness: the loss of the second, the params."""
    import torch
    row = Impl("torch")
    step, params, model = make_step(name, row, dict(size_items), dtype=torch.float64)
    with _deterministic(name, torch, model):
        step()
        loss = float(step().detach())
    return loss, [p.detach().numpy().copy() for p in params()]


# the checks' tolerances: Adadelta and Adam's first steps are nearly sign(g) * lr, so float32
# rounding of a tiny gradient moves a parameter by up to lr; the losses must agree closely
TOL = {"mnist": (1e-3, 2e-3), "vae": (1e-3, 2e-3), "resnet": (1e-3, 1e-4), "gpt": (1e-3, 2e-3)}


def _run_case(benchmark, impl, name):
    if impl.kind == "hand":
        pytest.skip("no hand-written row for a whole program")
    size = SIZES[name][0]
    step, params, model = make_step(name, impl, size)
    want_loss, want_params = _reference(name, tuple(sorted(size.items())))
    rtol, atol = TOL[name]

    def checked_steps():
        with _deterministic(name, impl.lib, model):
            step()
            return step()

    def check(loss):
        assert_close(impl, loss, want_loss, rtol=1e-4 if name != "gpt" else 1e-3, atol=1e-4,
                     what="loss of step 2 (no dropout, no noise)")
        for i, (got, want) in enumerate(zip(params(), want_params)):
            assert_close(impl, got, want, rtol=rtol, atol=atol, what=f"parameter {i}")

    benchmark.extra_info["parameters"] = int(sum(a.size for a in _initial(
        name, tuple(sorted(size.items())))))
    benchmark.extra_info["size"] = {k: list(v) if isinstance(v, tuple) else v
                                    for k, v in size.items()}
    impl.sync()
    start = time.perf_counter()
    check(checked_steps())  # the first call (compiles, first touch) is the checked pair
    benchmark.extra_info["first_call_s"] = time.perf_counter() - start
    benchmark.extra_info["device"] = impl.device

    def timed():
        out = step()
        impl.sync()
        return out
    benchmark(timed)


def test_mnist_cnn_step(benchmark, impl):
    """pytorch/examples mnist's Net (conv32-conv64-maxpool-dropout-fc128-dropout-fc10,
    log_softmax), nll_loss, Adadelta(lr=1.0), 1x28x28 float32 inputs."""
    _run_case(benchmark, impl, "mnist")


def test_vae_step(benchmark, impl):
    """pytorch/examples vae's VAE (784-400-20x2-400-784), its BCE + KL loss, Adam(lr=1e-3)."""
    _run_case(benchmark, impl, "vae")


def test_resnet_blocks_step(benchmark, impl):
    """A ResNet-18-style stack of BasicBlocks (conv3x3-BN-ReLU-conv3x3-BN + identity or 1x1
    downsample), cross-entropy, SGD(momentum 0.9, weight decay 5e-4), 3-channel inputs."""
    _run_case(benchmark, impl, "resnet")


def test_gpt_step(benchmark, impl):
    """nanoGPT's GPT (examples/ports/nanogpt/model.py), its loss, the AdamW of its
    configure_optimizers (weight decay 0.1 on the matrices)."""
    _run_case(benchmark, impl, "gpt")


# -- interleaved: one process per implementation, taking turns --------------------------------
INTERLEAVED = ("tensorlite-numba", "tensorlite-numpy", "torch")


def _make(name, row):
    return make_step(name, row, SIZES[name][0])[0]


@pytest.fixture(scope="module")
def workers():
    started = []

    def get():
        if not started:
            started.append(Workers(__file__, [n for n in INTERLEAVED if skip_reason(n) is None]))
        return started[0]
    yield get
    if started:
        started[0].close()


@pytest.mark.parametrize("model", list(SIZES))
def test_model_step_interleaved(benchmark, impl, model, workers):
    """The model's step on tensorlite-numba, tensorlite-numpy and PyTorch, one process each,
    taking turns; the ratios of the medians are the figures to read."""
    if impl != "tensorlite-numba":
        pytest.skip("an interleaved comparison of the CPU implementations: runs once, as the "
                    "tensorlite-numba row")
    _, rounds, steps = SIZES[model]
    benchmark.extra_info["loadavg_before_after"] = [os.getloadavg()]
    medians, samples = benchmark.pedantic(alternate, (workers(), model, rounds, steps),
                                          rounds=1, iterations=1)
    record_interleaved(benchmark, medians, samples, [("tensorlite-numba", "torch"),
                                                     ("tensorlite-numpy", "torch")])


if __name__ == "__main__" and sys.argv[1:2] == ["--worker"]:
    serve(sys.argv[2], _make)
