"""Single ops: matmul, bias + activation, reductions, softmax and cross-entropy.

Each case is one piece of work, done by every implementation: tensorlite and PyTorch through
their (identically shaped) tensor APIs, the hand-written row with array calls and its backward
written out.  Where the case says "forward+backward", the backward takes a random upstream
gradient and the timed call returns the output and every input gradient, all checked against
the hand-written function run in float64.
"""
import zlib

import numpy as np
import pytest

from conftest import assert_close, measure, sizes

BOTH = "forward+backward"


def _framework_fn(impl, forward, arrays, grad_out=None, with_grad=0):
    """A call that runs ``forward`` on ``impl`` tensors of ``arrays``; with ``with_grad`` > 0 it
    also runs backward (upstream ``grad_out``, or none for a scalar) and returns the output
    and the gradients of the first ``with_grad`` inputs."""
    ts = [impl.array(a, requires_grad=i < with_grad) for i, a in enumerate(arrays)]
    g = impl.array(grad_out) if grad_out is not None else None
    if not with_grad:
        return lambda: (forward(*ts),)

    def fn():
        for t in ts[:with_grad]:
            t.grad = None
        y = forward(*ts)
        y.backward(g)
        return (y,) + tuple(t.grad for t in ts[:with_grad])
    return fn


def _run(benchmark, impl, hand, forward, arrays, grad_out=None, with_grad=0, rtol=1e-4,
         atol=1e-5):
    """Time the case on ``impl``; ``hand(xp, *arrays, grad_out)`` is the hand-written row and,
    run in float64, the reference every row is checked against."""
    as64 = [a.astype(np.float64) if a.dtype.kind == "f" else a for a in arrays]
    expected = hand(np, *as64, None if grad_out is None else grad_out.astype(np.float64))
    if impl.kind == "hand":
        xs = [impl.array(a) for a in arrays]
        g = None if grad_out is None else impl.array(grad_out)
        fn = lambda: hand(impl.xp, *xs, g)  # noqa: E731
    else:
        fn = _framework_fn(impl, forward, arrays, grad_out, with_grad)
    names = ["output"] + [f"grad of input {i}" for i in range(len(expected) - 1)]

    def check(out):
        assert len(out) == len(expected), f"{impl}: {len(out)} results, expected {len(expected)}"
        for got, want, what in zip(out, expected, names):
            assert_close(impl, got, want, rtol=rtol, atol=atol, what=what)
    measure(benchmark, impl, fn, check, pure=True)


def _rng(*key):
    """A generator seeded by the case, the same in every process (str hashes are not)."""
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def _randn(rng, *shape, scale=1.0):
    return (scale * rng.standard_normal(shape)).astype(np.float32)


# -- matmul ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("n", sizes(full=[64, 256, 1024], quick=[64, 512], tiny=[8]))
def test_matmul(benchmark, impl, n):
    """An n x n float32 matrix product, forward."""
    rng = np.random.default_rng(n)
    a, b = _randn(rng, n, n), _randn(rng, n, n)
    _run(benchmark, impl, lambda xp, a, b, g: (a @ b,), lambda a, b: a @ b, [a, b],
         atol=2e-6 * n)


# -- bias + activation ----------------------------------------------------------------------------
def hand_bias_act(act, backward):
    def run(xp, x, b, g):
        y = x + b
        if act == "relu":
            xp.maximum(y, 0, out=y)
        elif act == "tanh":
            xp.tanh(y, out=y)
        else:  # sigmoid, 1 / (1 + exp(-y)), in place
            xp.negative(y, out=y)
            xp.exp(y, out=y)
            y += 1
            xp.reciprocal(y, out=y)
        if not backward:
            return (y,)
        if act == "relu":
            gx = xp.where(y > 0, g, 0).astype(g.dtype, copy=False)
        elif act == "tanh":
            gx = g * (1 - y * y)
        else:
            gx = g * y * (1 - y)
        return y, gx, gx.sum(0)
    return run


@pytest.mark.parametrize("mode", ["forward", BOTH])
@pytest.mark.parametrize("shape", sizes(full=[(256, 512), (256, 4096)], quick=[(256, 4096)],
                                        tiny=[(3, 5)]))
@pytest.mark.parametrize("act", sizes(full=["relu", "tanh", "sigmoid"], quick=["relu"],
                                      tiny=["relu"]))
def test_bias_act(benchmark, impl, act, shape, mode):
    """act(x + b) for x (rows, features), b (features); backward: the x and b gradients."""
    rng = _rng("bias_act", act, shape)
    x, b, g = _randn(rng, *shape), _randn(rng, shape[1], scale=0.1), _randn(rng, *shape)
    backward = mode == BOTH
    _run(benchmark, impl, hand_bias_act(act, backward), lambda x, b: getattr(x + b, act)(),
         [x, b], g if backward else None, with_grad=2 if backward else 0,
         atol=1e-5 * shape[0] ** 0.5)


# -- reductions along the last dim, forward + backward -------------------------------------------
def hand_reduce(op):
    def run(xp, x, g):
        if op == "sum":
            y = x.sum(-1)
            gx = xp.empty_like(x)
            gx[...] = g[:, None]
        elif op == "amax":  # ties share the gradient, as torch.amax
            y = x.max(-1)
            mask = x == y[:, None]
            gx = xp.where(mask, (g / mask.sum(-1))[:, None], 0).astype(x.dtype, copy=False)
        else:  # logsumexp
            m = x.max(-1, keepdims=True)
            e = xp.exp(x - m)
            s = e.sum(-1, keepdims=True)
            y = (m + xp.log(s))[:, 0]
            e *= (g[:, None] / s)
            gx = e
        return y, gx
    return run


@pytest.mark.parametrize("shape", sizes(full=[(256, 4096), (4096, 256)], quick=[(256, 4096)],
                                        tiny=[(3, 5)]))
@pytest.mark.parametrize("op", ["sum", "amax", "logsumexp"])
def test_reduce(benchmark, impl, op, shape):
    """x.<op>(dim=-1) forward + backward with a random upstream gradient."""
    rng = _rng("reduce", op, shape)
    x, g = _randn(rng, *shape), _randn(rng, shape[0])
    _run(benchmark, impl, hand_reduce(op), lambda x: getattr(x, op)(-1), [x], g, with_grad=1,
         atol=1e-5 * shape[1] ** 0.5)


# -- softmax and cross-entropy --------------------------------------------------------------------
def _softmax(xp, x):
    e = xp.exp(x - x.max(-1, keepdims=True))
    e /= e.sum(-1, keepdims=True)
    return e


def hand_softmax(xp, x, g):
    y = _softmax(xp, x)
    return y, y * (g - (g * y).sum(-1, keepdims=True))


def hand_cross_entropy(xp, x, target, g):
    """Mean cross-entropy of logits x (N, C) and class indices; the logits' gradient."""
    n = x.shape[0]
    rows = xp.arange(n)
    m = x.max(-1, keepdims=True)
    e = xp.exp(x - m)
    s = e.sum(-1, keepdims=True)
    loss = (xp.log(s[:, 0]) + m[:, 0] - x[rows, target]).mean()
    e /= s
    e[rows, target] -= 1
    e /= n
    return loss, e


CLASSES = sizes(full=[(256, 10), (256, 1000), (4096, 1000)], quick=[(256, 10), (256, 1000)],
                tiny=[(3, 4)])


@pytest.mark.parametrize("shape", CLASSES)
def test_softmax(benchmark, impl, shape):
    """x.softmax(-1) forward + backward with a random upstream gradient."""
    rng = _rng("softmax", shape)
    x, g = _randn(rng, *shape, scale=3.0), _randn(rng, *shape)
    _run(benchmark, impl, hand_softmax, lambda x: x.softmax(-1), [x], g, with_grad=1)


@pytest.mark.parametrize("shape", CLASSES)
def test_cross_entropy(benchmark, impl, shape):
    """Mean cross-entropy of (N, C) logits and class indices, forward + backward."""
    rng = _rng("cross_entropy", shape)
    x, target = _randn(rng, *shape, scale=3.0), rng.integers(0, shape[1], shape[0])
    if impl.kind == "hand":
        forward = None
    else:
        F = impl.lib.nn.functional
        forward = lambda x, t: F.cross_entropy(x, t)  # noqa: E731
    _run(benchmark, impl, hand_cross_entropy, forward, [x, target], with_grad=1)


def hand_log_softmax(xp, x, g):
    m = x.max(-1, keepdims=True)
    y = x - m
    y -= xp.log(xp.exp(y).sum(-1, keepdims=True))
    return y, g - xp.exp(y) * g.sum(-1, keepdims=True)


@pytest.mark.parametrize("shape", sizes(full=[(256, 1000)], quick=[(256, 1000)], tiny=[(3, 4)]))
def test_log_softmax(benchmark, impl, shape):
    """x.log_softmax(-1) forward + backward with a random upstream gradient."""
    rng = _rng("log_softmax", shape)
    x, g = _randn(rng, *shape, scale=3.0), _randn(rng, *shape)
    _run(benchmark, impl, hand_log_softmax, lambda x: x.log_softmax(-1), [x], g, with_grad=1)


# -- layer_norm -----------------------------------------------------------------------------------
def hand_layer_norm(xp, x, w, b, g):
    """layer_norm over the last dim (eps 1e-5), and the x, weight and bias gradients."""
    mean = x.mean(-1, keepdims=True)
    xc = x - mean
    rstd = 1 / xp.sqrt((xc * xc).mean(-1, keepdims=True) + 1e-5)
    xhat = xc * rstd
    gxh = g * w
    gx = rstd * (gxh - gxh.mean(-1, keepdims=True) - xhat * (gxh * xhat).mean(-1, keepdims=True))
    return xhat * w + b, gx, (g * xhat).sum(0), g.sum(0)


@pytest.mark.parametrize("shape", sizes(full=[(1024, 768)], quick=[(1024, 768)], tiny=[(3, 5)]))
def test_layer_norm(benchmark, impl, shape):
    """F.layer_norm over the last dim with weight and bias, forward + backward (all three
    gradients) with a random upstream gradient."""
    rng = _rng("layer_norm", shape)
    x, g = _randn(rng, *shape), _randn(rng, *shape)
    w, b = 1 + _randn(rng, shape[1], scale=0.1), _randn(rng, shape[1], scale=0.1)
    if impl.kind == "hand":
        forward = None
    else:
        F = impl.lib.nn.functional
        forward = lambda x, w, b: F.layer_norm(x, (shape[1],), w, b)  # noqa: E731
    _run(benchmark, impl, hand_layer_norm, forward, [x, w, b], g, with_grad=3,
         atol=1e-5 * shape[0] ** 0.5)
