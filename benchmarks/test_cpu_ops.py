"""Issue 14's twelve CPU op cases: tensorlite on numba and on numpy against PyTorch CPU eager,
float32, each implementation in its own process and the processes taking turns
(``interleave.py``); the median ratios to PyTorch are the figures to read.

Every case is written once, over the library it is given (``tensorlite`` or ``torch``: the same
code), and checked against PyTorch in float64 before it is timed.  "fwd" cases run the forward
only (no tensor requires grad); "fwd+bwd" cases call ``backward`` with a fixed random upstream
gradient and read every input's gradient.
"""
import sys

import numpy as np
import pytest

from conftest import Impl, assert_close, record_interleaved, sizes, skip_reason, torch
from interleave import Workers, alternate, serve


def _gelu(lib, x):
    return lib.nn.functional.gelu(x)


def _bias_sigmoid(lib, x, b):
    return (x + b).sigmoid()


def _bias_tanh(lib, x, b):
    return (x + b).tanh()


def _layer_norm(lib, x, w, b):
    return lib.nn.functional.layer_norm(x, (x.shape[-1],), w, b)


def _cross_entropy(lib, x, t):
    return lib.nn.functional.cross_entropy(x, t)


# name: (function, input shapes (an int64 target as ("target", n, classes)), backward?)
CASES = {
    "gelu": (_gelu, [(256, 4096)], True),
    "bias_sigmoid": (_bias_sigmoid, [(256, 4096), (4096,)], False),
    "layer_norm": (_layer_norm, [(1024, 768), (768,), (768,)], True),
    "log_softmax": (lambda lib, x: x.log_softmax(-1), [(256, 1000)], True),
    "softmax": (lambda lib, x: x.softmax(-1), [(4096, 1000)], False),
    "sum_dim0": (lambda lib, x: x.sum(0), [(4096, 256)], False),
    "cross_entropy": (_cross_entropy, [(4096, 1000), ("target", 4096, 1000)], True),
    "amax_dim1": (lambda lib, x: x.amax(1), [(256, 4096)], False),
    "mul_add_broadcast": (lambda lib, x, y, z: x * y + z, [(512, 1024), (1024,), (512, 1)], True),
    "logsumexp": (lambda lib, x: x.logsumexp(-1), [(256, 4096)], False),
    "matmul": (lambda lib, a, b: a @ b, [(512, 512), (512, 512)], True),
    "bias_tanh": (_bias_tanh, [(256, 4096), (4096,)], True),
}
IMPLS = ("tensorlite-numba", "tensorlite-numpy", "torch")
ROUNDS_CALLS = sizes(full=(12, 10), quick=(4, 5), tiny=(1, 1))
SHRINK = sizes(full=1, quick=1, tiny=64)  # tiny mode: the same cases on small arrays


def _arrays(name, dtype=np.float32):
    rng = np.random.default_rng(sorted(CASES).index(name))
    out = []
    for shape in CASES[name][1]:
        if shape[0] == "target":
            out.append(rng.integers(0, shape[2], max(1, shape[1] // SHRINK)))
        else:
            shape = tuple(max(1, s // SHRINK) for s in shape)
            out.append(rng.standard_normal(shape).astype(dtype))
    if name == "layer_norm":
        out[1] += 1
    return out


def make(name, impl, dtype=np.float32):
    """The case's call on ``impl`` and a function reading its outputs (result, gradients)."""
    fn, _, backward = CASES[name]
    lib = impl.lib
    arrays = _arrays(name, dtype)
    inputs = [impl.array(a, requires_grad=backward and a.dtype.kind == "f") for a in arrays]
    grad = None
    if backward:
        shape = tuple(fn(lib, *[lib.tensor(a) for a in arrays]).shape)
        grad = impl.array(np.random.default_rng(99).standard_normal(shape).astype(dtype))
    out = []

    def call():
        for t in inputs:
            t.grad = None
        y = fn(lib, *inputs)
        if backward:
            y.backward(grad)
        out[:] = [y]
        return y

    def results():
        return [out[0]] + [t.grad for t in inputs if t.requires_grad]
    call.results = results
    return call


@pytest.mark.parametrize("case", list(CASES))
def test_cpu_op_interleaved(benchmark, impl, case, workers):
    """The case on tensorlite-numba, tensorlite-numpy and PyTorch, one process each, taking
    turns, after checking this process's tensorlite result against PyTorch float64."""
    if impl != "tensorlite-numba":
        pytest.skip("an interleaved comparison of the CPU implementations: runs once, as the "
                    "tensorlite-numba row")
    if torch is None:
        pytest.skip("needs torch, the reference")
    want = make(case, Impl("torch"), np.float64)
    want()
    got = make(case, impl)
    got()
    for i, (g, w) in enumerate(zip(got.results(), want.results())):
        assert_close(impl, g, w.detach().numpy(), rtol=1e-4, atol=1e-4,
                     what=f"{case} output {i}")
    rounds, calls = ROUNDS_CALLS
    medians, samples = benchmark.pedantic(alternate, (workers(), case, rounds, calls),
                                          rounds=1, iterations=1)
    record_interleaved(benchmark, medians, samples, [("tensorlite-numba", "torch"),
                                                     ("tensorlite-numpy", "torch")])


@pytest.fixture(scope="module")
def workers():
    started = []

    def get():
        if not started:
            started.append(Workers(__file__, [n for n in IMPLS if skip_reason(n) is None]))
        return started[0]
    yield get
    if started:
        started[0].close()


if __name__ == "__main__" and sys.argv[1:2] == ["--worker"]:
    serve(sys.argv[2], make)
