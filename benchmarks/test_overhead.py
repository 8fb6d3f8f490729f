"""Per-op overhead and matmul: tensorlite beside PyTorch eager on the same work."""
import numpy as np
import pytest

import tensorlite as tl

from conftest import torch

CHAIN_OPS = 200  # ops per chain; each step is x*w, +b, tanh, -0.5


def _chain(x, w, b):
    for _ in range(CHAIN_OPS // 4):
        x = (x * w + b).tanh() - 0.5
    return x.sum()


@pytest.mark.parametrize("size", [64])
def test_per_op_overhead(benchmark, impl, size):
    """A 200-op chain on a small vector, forward + backward: the cost per op is Python overhead."""
    if impl == "numpy-hand":
        pytest.skip("no hand-written reference for autograd overhead")
    lib = torch if impl == "torch" else tl
    x = lib.ones(size) * 0.5
    w = lib.ones(size).requires_grad_()
    b = lib.zeros(size).requires_grad_()

    def step():
        w.grad = b.grad = None
        _chain(x, w, b).backward()

    benchmark.extra_info["ops_per_call"] = CHAIN_OPS + 1
    benchmark(step)
    assert tuple(w.grad.shape) == (size,) and np.isfinite(np.asarray(w.grad.detach().cpu())).all()


@pytest.mark.parametrize("n", [64, 256, 1024])
def test_matmul(benchmark, impl, n):
    """An n x n float32 matrix product."""
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((n, n), dtype=np.float32) for _ in range(2))
    if impl == "torch":
        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        out = benchmark(lambda: ta @ tb).numpy()
    elif impl == "numpy-hand":
        out = benchmark(lambda: a @ b)
    else:
        ta, tb = tl.tensor(a), tl.tensor(b)
        out = np.asarray(benchmark(lambda: ta @ tb).cpu())
    np.testing.assert_allclose(out, a @ b, rtol=1e-3, atol=1e-3 * n ** 0.5)
