"""Per-op overhead: a 200-op chain on a small vector, forward + backward.

On tensors this small the cost per op is the framework's own Python (wrappers, the tape),
which is what this case measures.  The hand-written row is the floor: the same NumPy calls
with the backward written out and no tape.
"""
import numpy as np
import pytest

from conftest import assert_close, measure, sizes

CHAIN_OPS = 200  # ops per chain forward; each link is x*w, +b, tanh, -0.5


def _chain(x, w, b):
    for _ in range(CHAIN_OPS // 4):
        x = (x * w + b).tanh() - 0.5
    return x.sum()


def hand_chain(xp, x, w, b):
    """The chain's loss and the gradients of w and b, the backward written out."""
    inputs, outputs = [], []  # each link's input x and its tanh
    for _ in range(CHAIN_OPS // 4):
        inputs.append(x)
        t = xp.tanh(x * w + b)
        outputs.append(t)
        x = t - 0.5
    loss = x.sum()
    g, gw, gb = xp.ones_like(x), xp.zeros_like(w), xp.zeros_like(b)
    for x_in, t in zip(reversed(inputs), reversed(outputs)):
        gz = g * (1 - t * t)
        gw += gz * x_in
        gb += gz
        g = gz * w
    return loss, gw, gb


def framework_chain(impl, x, w, b):
    """(step, leaves): the chain's forward + backward on ``impl`` (tensorlite or torch), the
    step returning the loss and the gradients of w and b."""
    xs, ws, bs = impl.array(x), impl.array(w, True), impl.array(b, True)

    def step():
        ws.grad = bs.grad = None
        loss = _chain(xs, ws, bs)
        loss.backward()
        return loss, ws.grad, bs.grad
    return step, [ws, bs]


def _data(size):
    rng = np.random.default_rng(size)
    return (rng.uniform(-1, 1, size).astype(np.float32),
            (1 + 0.1 * rng.standard_normal(size)).astype(np.float32),
            (0.1 * rng.standard_normal(size)).astype(np.float32))


@pytest.mark.parametrize("size", sizes(full=[64], quick=[64], tiny=[4]))
def test_per_op_overhead(benchmark, impl, size):
    """forward + backward of the chain; the figure divided by 201 is the cost per op."""
    x, w, b = _data(size)
    expected = hand_chain(np, *(a.astype(np.float64) for a in (x, w, b)))
    if impl.kind == "hand":
        xs, ws, bs = (impl.array(a) for a in (x, w, b))

        def step():
            return hand_chain(impl.xp, xs, ws, bs)
    else:
        step, _ = framework_chain(impl, x, w, b)

    def check(out):
        for got, want, what in zip(out, expected, ("loss", "grad w", "grad b")):
            assert_close(impl, got, want, rtol=1e-4, atol=1e-4, what=what)

    benchmark.extra_info["ops_per_call"] = CHAIN_OPS + 1
    measure(benchmark, impl, step, check, pure=True)
