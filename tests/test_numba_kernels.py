"""The numba backend's kernels against the NumPy reference, and the fused linear + activation.

The conformance suite already runs every op on the numba backend; these tests call the
overridden primitives directly, on the shapes kernels get wrong (one row, one column, empty,
non-contiguous, 0-d), in float32 and float64, once on the calling thread and once on the thread
pool.  Where the kernel repeats the reference's arithmetic (no transcendental functions) the
results must be bitwise equal; exp/tanh/erf may differ from NumPy's by an ulp or two.
The fused linear tests (F.linear(..., activation=) and Sequential's fusion) run on every
backend and compare against PyTorch.
"""
import numpy as np
import pytest
import torch

import tensorlite as tl
from tensorlite import backends
from tensorlite.backends.base import REFCOUNTS_KNOWN

from helpers import Const, N, check_op, check_second_order, strided, to_np

FLOATS = [np.float64, np.float32]
ULPS = {np.dtype(np.float64): dict(rtol=1e-14, atol=1e-14),
        np.dtype(np.float32): dict(rtol=2e-6, atol=1e-6)}
ACTS = ["relu", "tanh", "sigmoid", "gelu", "gelu_tanh"]
SHAPES = [(1, 7), (7, 1), (5, 33), (3, 0), (0, 4)]


@pytest.fixture
def pooled():
    """The numba backend's buffer pool is on (it counts references: only where they are known)."""
    if backends.unavailable_reason("numba"):
        pytest.skip(backends.unavailable_reason("numba"))
    if not REFCOUNTS_KNOWN:
        pytest.skip("the buffer pool is off on this Python: its reference counts are unchecked")


@pytest.fixture
def ref():
    return backends.get("numpy")


def _rand(rng, shape, dtype, layout="c"):
    a = rng.standard_normal(shape).astype(dtype)
    return strided(a) if layout == "strided" else a


def _same(got, want, exact=True):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape and got.dtype == want.dtype, (got.shape, got.dtype,
                                                                 want.shape, want.dtype)
    if exact:
        np.testing.assert_array_equal(got, want)
    else:
        np.testing.assert_allclose(got, want, equal_nan=True, **ULPS[want.dtype])


# -- bias + activation, the fused linear and its backward ------------------------------------------
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", SHAPES + [(2, 3, 4)])
@pytest.mark.parametrize("act", [None] + ACTS)
@pytest.mark.parametrize("layout", ["c", "strided"])
def test_bias_act(nb, ref, rng, dtype, shape, act, layout):
    z = _rand(rng, shape, dtype, layout)
    b = _rand(rng, shape[-1:], dtype)
    for bias in (b, None):
        before = z.copy()
        _same(nb.bias_act(z, bias, act), ref.bias_act(z, bias, act), exact=act in (None, "relu"))
        np.testing.assert_array_equal(z, before)  # bias_act gives a new array


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", [(), (1,), (7, 1), (2, 3, 5), (0, 3), (300, 70)])
@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_relu_and_gelu(nb, ref, rng, dtype, shape, approximate):
    for layout in ("c", "strided"):
        x = _rand(rng, shape, dtype, layout)
        _same(nb.gelu(x, approximate), ref.gelu(x, approximate), exact=False)
        _same(nb.relu(x), ref.relu(x))


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("lead,n,k", [((1,), 7, 5), ((7,), 1, 5), ((6,), 5, 1), ((4,), 33, 17),
                                      ((0,), 3, 4), ((3,), 4, 0), ((2, 3), 4, 5), ((), 3, 4)])
@pytest.mark.parametrize("act", [None] + ACTS)
def test_linear(nb, ref, rng, dtype, lead, n, k, act):
    """act(x @ w.T + b) for x (*lead, k), w (n, k), b (n,)."""
    x, w, b = _rand(rng, (*lead, k), dtype), _rand(rng, (n, k), dtype), _rand(rng, (n,), dtype)
    exact = act in (None, "relu")
    for bias in (b, None):
        _same(nb.linear(x, w, bias, act), ref.linear(x, w, bias, act), exact)
    _same(nb.linear(strided(x), w, b, act), ref.linear(strided(x), w, b, act), exact)
    if act in (None, "gelu", "gelu_tanh"):  # the pre-activation for GELU's backward
        (y, pre), (ry, rpre) = (B.linear(x, w, b, act, keep_pre=True) for B in (nb, ref))
        _same(pre, rpre)
        _same(y, ry, exact=act is None)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", SHAPES + [(300, 70)])
@pytest.mark.parametrize("act", [None] + ACTS)
@pytest.mark.parametrize("layout", ["c", "strided"])
def test_linear_act_grad(nb, ref, rng, dtype, shape, act, layout):
    g = _rand(rng, shape, dtype, layout)
    s = _rand(rng, shape, dtype)
    if act in ("tanh", "sigmoid"):  # s is the activation's output
        s = np.tanh(s) if act == "tanh" else 1 / (1 + np.exp(-s))
    for bias in (True, False):
        gz, gb = nb.linear_act_grad(g, s, act, bias)
        rgz, rgb = ref.linear_act_grad(g, s, act, bias)
        _same(gz, rgz, exact=act not in ("gelu", "gelu_tanh"))
        if bias:  # columns summed top to bottom, NumPy's order: bitwise the unfused sum(0)
            _same(gb, ref.sum(gz, 0) if act in ("gelu", "gelu_tanh") else rgb)
        else:
            assert gb is None and rgb is None


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", [(), (1,), (9, 1), (1, 9), (2, 3, 5), (0, 3), (300, 70)])
@pytest.mark.parametrize("act", ["relu", "tanh", "sigmoid", "gelu", "gelu_tanh"])
@pytest.mark.parametrize("layout", ["c", "strided"])
def test_activation_grad(nb, ref, rng, dtype, shape, act, layout):
    g, s = _rand(rng, shape, dtype, layout), _rand(rng, shape, dtype)
    s[...] = 0 if s.ndim == 0 else s  # a 0-d array: an exact zero (relu's kink) for once
    if act.startswith("gelu"):
        approx = "tanh" if act == "gelu_tanh" else "none"
        _same(nb.gelu_grad(g, s, approx), ref.gelu_grad(g, s, approx), exact=False)
    else:
        _same(getattr(nb, f"{act}_grad")(g, s), getattr(ref, f"{act}_grad")(g, s))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_activation_special_values(nb, ref):
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-300, -1e300, 3.0])
    b = np.zeros(8)
    for act in ("relu", "tanh", "sigmoid"):
        for dtype in FLOATS:
            xs, bs = x.astype(dtype)[None], b.astype(dtype)
            got, want = nb.bias_act(xs, bs, act), ref.bias_act(xs, bs, act)
            _same(got, want, exact=act == "relu")
            num = ~np.isnan(want)  # -0.0 stays -0.0 (a NaN's sign means nothing)
            np.testing.assert_array_equal(np.signbit(got[num]), np.signbit(want[num]))
            _same(getattr(nb, f"{act}_grad")(xs * 0 + 1, want), getattr(ref, f"{act}_grad")(
                xs * 0 + 1, want), exact=True)


UNARY = {"exp": (), "log": (), "tanh": (), "sigmoid": (), "erf": (), "relu": (),
         "gelu": ("none",), "gelu_tanh": ("tanh",), "softplus": (1.5, 3.0),
         "leaky_relu": (0.2,)}


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("name", sorted(UNARY))
def test_generated_unary(nb, ref, rng, dtype, name):
    """The primitives the generated kernels serve, against the reference on every layout and
    on the special values; exact where no exp/log/tanh/erf is involved (relu, leaky_relu)."""
    prim, args = ("gelu" if name.startswith("gelu") else name), UNARY[name]
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-30, -1e30, 3.0, 25.0, -25.0])
    cases = [x.astype(dtype), _rand(rng, (5, 33), dtype), _rand(rng, (4, 6), dtype, "strided"),
             _rand(rng, (2, 3, 4), dtype), _rand(rng, (0, 3), dtype), _rand(rng, (1,), dtype),
             np.array(0.5, dtype)]
    for a in cases:
        a = np.abs(a) if name == "log" else a
        got, want = getattr(nb, prim)(a, *args), getattr(ref, prim)(a, *args)
        _same(got, want, exact=name in ("relu", "leaky_relu"))
        num = ~np.isnan(want) & (want != 0)
        np.testing.assert_array_equal(np.signbit(got[num]), np.signbit(want[num]))
    if name in ("erf", "tanh"):  # -0.0 keeps its sign, as torch (the reference's erf loses it)
        assert np.signbit(getattr(nb, prim)(np.array([-0.0], dtype)))[0]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_generated_float32_exp_log_tanh(nb, ref, rng):
    """From GENERATED_MIN elements float32 exp, log and tanh (and bias + tanh, fused) take the
    generated polynomials instead of NumPy's: within an ulp or two, special values kept."""
    n = nb.GENERATED_MIN + 37
    x = (rng.standard_normal(n) * 8).astype(np.float32)
    x[:10] = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-30, -1e30, 88.5, -103.0, 1e-40]
    b = rng.standard_normal(n // 3 * 3 // 3).astype(np.float32)[:3]
    for a in (x, x.reshape(-1, 1)[::2]):  # contiguous, strided
        for name in ("exp", "log", "tanh"):
            v = np.abs(a) if name == "log" else a
            got, want = getattr(nb, name)(v), getattr(ref, name)(v)
            assert got.dtype == np.float32 and got.shape == want.shape
            _same(got, want, exact=False)
            num = ~np.isnan(want) & (want != 0)
            np.testing.assert_array_equal(np.signbit(got[num]), np.signbit(want[num]))
    z = x[: n // 3 * 3].reshape(-1, 3)
    _same(nb.bias_act(z, b, "tanh"), ref.bias_act(z, b, "tanh"), exact=False)
    assert np.signbit(nb.tanh(np.full(n, -0.0, np.float32))).all()
    x64 = x.astype(np.float64)  # float64: NumPy's own, bit for bit
    _same(nb.tanh(x64), ref.tanh(x64))
    m = nb.GENERATED_MIN_EXP + 3  # sigmoid, softplus, bias + sigmoid: generated from here
    for a in (x[:m], x64[:m]):
        _same(nb.sigmoid(a), ref.sigmoid(a), exact=False)
        _same(nb.softplus(a, 1.5, 3.0), ref.softplus(a, 1.5, 3.0), exact=False)
        z = a[: m // 3 * 3].reshape(-1, 3)
        _same(nb.bias_act(z, b.astype(a.dtype), "sigmoid"),
              ref.bias_act(z, b.astype(a.dtype), "sigmoid"), exact=False)


# -- softmax, log_softmax, the cross-entropy pick --------------------------------------------------
ROWS = [np.array([[1.0, 2.0, 3.0]]), np.array([[5.0], [-2.0]]),
        np.array([[-np.inf, -np.inf, 1.0], [np.inf, 0.0, 1.0], [np.nan, 0.0, 1.0],
                  [-np.inf, -np.inf, -np.inf], [1000.0, -1000.0, 0.0]])]


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_rows(nb, ref, rng, dtype, name):
    cases = [r.astype(dtype) for r in ROWS] + [
        _rand(rng, (4, 3, 50), dtype), _rand(rng, (3, 0), dtype), _rand(rng, (0, 3), dtype),
        _rand(rng, (7,), dtype), _rand(rng, (5, 6), dtype, "strided")]
    with np.errstate(invalid="ignore"):
        for x in cases:
            for axis in range(x.ndim):  # not the last axis: the reference
                got, want = getattr(nb, name)(x, axis), getattr(ref, name)(x, axis)
                if x.size == 0:  # an empty result of the input's shape and dtype, as torch
                    assert got.shape == want.shape == x.shape and got.dtype == want.dtype == dtype
                    continue
                _same(got, want, exact=False)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", [(1, 5), (6, 1), (40, 10), (0, 3)])
def test_log_softmax_pick(nb, ref, rng, dtype, shape):
    x = _rand(rng, shape, dtype)
    t = rng.integers(0, shape[1], shape[0])
    for got, want in zip(nb.log_softmax_pick(x, t), ref.log_softmax_pick(x, t)):
        _same(got, want, exact=False)
    if shape[0]:
        bad = t.copy()
        bad[-1] = shape[1]
        with pytest.raises(IndexError):
            nb.log_softmax_pick(x, bad)


# -- optimizer steps: the same arithmetic as the reference, bit for bit ----------------------------
SGD_OPTIONS = [dict(), dict(momentum=0.9), dict(momentum=0.9, dampening=0.3),
               dict(momentum=0.8, nesterov=True, weight_decay=0.01),
               dict(weight_decay=0.1, maximize=True), dict(maximize=True),
               dict(momentum=0.5, weight_decay=0.2, maximize=True)]


def _state(rng, shape, dtype, k):
    return [_rand(rng, shape, dtype) for _ in range(k)]


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", [(), (1,), (7, 1), (33, 65), (0, 2)])
@pytest.mark.parametrize("options", SGD_OPTIONS, ids=str)
def test_sgd_step(nb, ref, rng, dtype, shape, options):
    p, g, buf = _state(rng, shape, dtype, 3)
    for first in (True, False):
        a = [p.copy(), g.copy(), buf.copy() if options.get("momentum") else None]
        r = [x if x is None else x.copy() for x in a]
        for _ in range(2):
            nb.sgd_step(*a, 0.1, first=first, **options)
            ref.sgd_step(*r, 0.1, first=first, **options)
        for got, want in zip(a, r):
            if want is not None:
                _same(got, want)


ADAM_OPTIONS = [dict(), dict(weight_decay=0.1), dict(weight_decay=0.1, decoupled_weight_decay=True),
                dict(maximize=True), dict(weight_decay=0.05, maximize=True, amsgrad=True),
                dict(amsgrad=True), dict(beta1=0.3)]


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", [(), (1,), (7, 1), (33, 65), (0, 2)])
@pytest.mark.parametrize("options", ADAM_OPTIONS, ids=str)
def test_adam_step(nb, ref, rng, dtype, shape, options):
    options = dict(options)
    amsgrad, beta1 = options.pop("amsgrad", False), options.pop("beta1", 0.9)
    p, g = _state(rng, shape, dtype, 2)
    m, v, vmax = (np.zeros(shape, dtype) for _ in range(3))
    a = [p.copy(), g, m.copy(), v.copy(), vmax.copy() if amsgrad else None]
    r = [p.copy(), g, m.copy(), v.copy(), vmax.copy() if amsgrad else None]
    for step in (1, 2, 3):
        g[...] = _rand(rng, shape, dtype)
        nb.adam_step(*a, step, 1e-2, beta1, 0.999, 1e-8, **options)
        ref.adam_step(*r, step, 1e-2, beta1, 0.999, 1e-8, **options)
    for got, want in zip(a, r):
        if want is not None:
            _same(got, want)


# -- convolution and pooling -----------------------------------------------------------------------
CONV = [  # (N, C, H, W), kernel, stride, dilation
    ((1, 1, 5, 5), (3, 3), (1, 1), (1, 1)), ((2, 3, 7, 6), (2, 3), (2, 1), (1, 2)),
    ((3, 2, 1, 9), (1, 4), (1, 3), (1, 1)), ((1, 4, 8, 1), (3, 1), (2, 1), (2, 1)),
    ((0, 2, 4, 4), (2, 2), (1, 1), (1, 1))]


def _out(shape, kernel, stride, dilation):
    return tuple((n - d * (k - 1) - 1) // s + 1
                 for n, k, s, d in zip(shape[2:], kernel, stride, dilation))


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("case", CONV, ids=str)
def test_im2col_col2im(nb, ref, rng, dtype, case):
    shape, kernel, stride, dilation = case
    out = _out(shape, kernel, stride, dilation)
    for layout in ("c", "strided"):
        x = _rand(rng, shape, dtype, layout)
        _same(nb.im2col(x, kernel, stride, dilation, out), ref.im2col(x, kernel, stride,
                                                                        dilation, out))
        cols = _rand(rng, shape[:2] + kernel + out, dtype, layout)
        _same(nb.col2im(cols, shape, stride, dilation), ref.col2im(cols, shape, stride, dilation))


POOL = [  # (N, C, H, W), kernel, stride, padding, dilation, extra output rows/cols
    # (ceil_mode: a last window that starts inside the plane and runs past it)
    ((2, 3, 6, 6), (2, 2), (2, 2), (0, 0), (1, 1), (0, 0)),
    ((1, 2, 7, 5), (2, 2), (2, 2), (0, 0), (1, 1), (0, 0)),  # MaxPool2d(2), odd planes
    ((1, 2, 5, 5), (2, 2), (2, 2), (0, 0), (1, 1), (1, 1)),  # ... a window past the plane
    ((1, 1, 5, 7), (3, 3), (2, 2), (1, 1), (1, 1), (0, 0)),
    ((1, 2, 6, 7), (3, 3), (2, 2), (0, 0), (1, 1), (1, 0)),
    ((2, 2, 7, 5), (3, 2), (1, 2), (1, 1), (2, 1), (0, 1)),
    ((1, 2, 1, 9), (1, 3), (1, 3), (0, 1), (1, 1), (0, 0)),
    ((0, 2, 4, 4), (2, 2), (2, 2), (0, 0), (1, 1), (0, 0))]


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("case", POOL, ids=str)
def test_max_pool2d(nb, ref, rng, dtype, case):
    shape, kernel, stride, padding, dilation, extra = case
    out = tuple((n + 2 * p - d * (k - 1) - 1) // s + 1 + e for n, k, s, p, d, e in
                zip(shape[2:], kernel, stride, padding, dilation, extra))
    x = np.round(_rand(rng, shape, dtype), 0)  # rounded: ties inside windows
    if x.size:
        x.flat[::7] = np.nan
        x.flat[3::11] = -np.inf
    for xs in (x, strided(x)):
        (v, i), (rv, ri) = (B.max_pool2d(xs, kernel, stride, padding, dilation, out)
                            for B in (nb, ref))
        _same(v, rv)
        _same(i, ri)
        g = _rand(rng, v.shape, dtype)
        _same(nb.max_pool2d_backward(g, i, shape), ref.max_pool2d_backward(g, i, shape))


@pytest.mark.parametrize("dtype", FLOATS)
def test_conv_bias_grad_sum(nb, ref, rng, dtype):
    """sum over (0, 2, 3) (a convolution's bias gradient) adds in float64 and rounds once: at
    most one rounding from the exact sum, where NumPy's float32 sum may be further off."""
    for shape in [(64, 8, 4, 4), (1, 3, 1, 1), (5, 2, 3, 7)]:
        x = _rand(rng, shape, dtype)
        got, exact = nb.sum(x, (0, 2, 3)), np.abs(x.astype(np.float64)).sum((0, 2, 3))
        want = x.astype(np.float64).sum((0, 2, 3))
        assert got.dtype == dtype and got.shape == (shape[1],)
        np.testing.assert_allclose(got, want, rtol=0, atol=np.finfo(dtype).eps * exact.max())
    x = _rand(rng, (4, 3, 2, 5), dtype)
    _same(nb.sum(x, (0, 2, 3), True), ref.sum(x, (0, 2, 3), True))  # keepdims: the reference
    _same(nb.sum(x, (0, 2)), ref.sum(x, (0, 2)))


# -- fallbacks: inputs a kernel does not take go to the reference ----------------------------------
def test_fallbacks_never_reach_a_kernel(nb, ref, rng, monkeypatch):
    from tensorlite.backends import (numba_attention, numba_conv, numba_norm, numba_optim,
                                     numba_reduce, numba_softmax)

    def boom(*args):
        raise AssertionError("a kernel was called on an input it does not take")
    for module in (numba_softmax, numba_optim, numba_reduce, numba_norm, numba_attention,
                   numba_conv):
        for name in dir(module):
            if name.endswith(("_body", "_par")) or name in ("log_softmax_pick", "channel_sum"):
                monkeypatch.setattr(module, name, boom)
    x = _rand(rng, (4, 6), np.float64, "strided")
    f16 = np.ones((4, 6), np.float16)
    for a in (x, np.arange(24, dtype=np.int32).reshape(4, 6), f16):
        _same(nb.bias_act(a, None, "relu"), ref.bias_act(a, None, "relu"))
        _same(nb.relu_grad(a, a), ref.relu_grad(a, a))
    for a in (x, f16):
        _same(nb.softmax(a, 1), ref.softmax(a, 1))
    c = np.ascontiguousarray(x)
    _same(nb.bias_act(c, np.ones(6, np.float32), "relu"),  # mixed dtypes
          ref.bias_act(c, np.ones(6, np.float32), "relu"))
    _same(nb.linear_act_grad(x, x, "relu")[0], ref.linear_act_grad(x, x, "relu")[0])
    _same(nb.softmax(c, 0), ref.softmax(c, 0))
    _same(nb.log_softmax_pick(x, np.zeros(4, np.int64))[1],
          ref.log_softmax_pick(x, np.zeros(4, np.int64))[1])
    p, g = np.ones((3, 4))[:, ::2], np.ones((3, 2))
    q = p.copy()
    nb.sgd_step(p, g, None, 0.5)
    ref.sgd_step(q, g, None, 0.5)
    _same(p, q)
    img = _rand(rng, (1, 2, 5, 5), np.float64, "strided")
    _same(nb.im2col(img, (2, 2), (1, 1), (1, 1), (4, 4)),
          ref.im2col(img, (2, 2), (1, 1), (1, 1), (4, 4)))
    _same(nb.sum(img, (0, 2, 3)), ref.sum(img, (0, 2, 3)))
    ints = np.arange(50).reshape(1, 2, 5, 5)
    _same(nb.sum(ints, (0, 2, 3)), ref.sum(ints, (0, 2, 3)))
    for got, want in zip(nb.max_pool2d(ints, (2, 2), (2, 2), (0, 0), (1, 1), (2, 2)),
                         ref.max_pool2d(ints, (2, 2), (2, 2), (0, 0), (1, 1), (2, 2))):
        _same(got, want)


# -- the fused linear on the tape: F.linear(..., activation=) and Sequential -----------------------
_TORCH_ACT = {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid,
              "gelu": torch.nn.functional.gelu,
              "gelu_tanh": lambda z: torch.nn.functional.gelu(z, approximate="tanh")}


def _fused(act):
    def fn(lib, x, w, b=None):
        if lib is tl:
            return tl.nn.functional.linear(x, w, b, activation=act)
        return _TORCH_ACT[act](torch.nn.functional.linear(x, w, b))
    return fn


@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("shapes", [((4, 5), (3, 5), (3,)), ((2, 3, 5), (4, 5), (4,)),
                                    ((5,), (3, 5), (3,)), ((1, 6), (1, 6), (1,)),
                                    ((6, 4), (2, 4), None)], ids=str)
def test_fused_linear_against_torch(backend, act, shapes):
    xs, ws, bs = shapes
    check_op(_fused(act), N(*xs), N(*ws), *(() if bs is None else (N(*bs),)))


@pytest.mark.parametrize("act", ACTS)
def test_fused_linear_second_order(backend, act):
    # relu's second derivative is zero: torch gives the bias a zero tensor, tensorlite None
    # (as for the unfused relu), which the checker counts as a difference; so a constant bias
    bias = Const([0.3, -0.2]) if act == "relu" else N(2)
    check_second_order(_fused(act), N(3, 4), N(2, 4), bias)


@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("dtype", [tl.float64, tl.float32])
def test_fused_equals_unfused(backend, rng, act, dtype):
    """The fused op gives the unfused op's values and gradients, bit for bit where the backend
    computes them with the same code (everything but the GELUs' backward on numba)."""
    F = tl.nn.functional
    x = rng.standard_normal((6, 5))
    w, b, g = rng.standard_normal((7, 5)), rng.standard_normal(7), rng.standard_normal((6, 7))
    x[0, :] = 0  # rows of exact zeros: relu's kink
    unfused = {"relu": F.relu, "tanh": F.tanh, "sigmoid": F.sigmoid, "gelu": F.gelu,
               "gelu_tanh": lambda z: F.gelu(z, approximate="tanh")}[act]
    results = []
    for fused in (True, False):
        leaves = [tl.tensor(a, dtype=dtype, requires_grad=True) for a in (x, w, b)]
        y = (F.linear(*leaves, activation=act) if fused else unfused(F.linear(*leaves)))
        y.backward(tl.tensor(g, dtype=dtype))
        results.append([y] + [t.grad for t in leaves])
    # the same backend calls either way, except the GELUs' backward on numba: its kernel
    # evaluates gelu'(x) in one pass where the tape composes it (erf/exp may differ by an ulp)
    for i, (a, e) in enumerate(zip(*results)):
        if i == 0 or backend.name == "numpy" or act in ("relu", "tanh", "sigmoid"):
            _same(to_np(a), to_np(e))
        else:
            np.testing.assert_allclose(to_np(a), to_np(e), rtol=1e-5 if dtype == tl.float32
                                       else 1e-12, atol=1e-6 if dtype == tl.float32 else 1e-14)


@pytest.mark.parametrize("act", ["ReLU", "Tanh", "Sigmoid", "GELU", "GELU-tanh"])
def test_sequential_fuses_linear_and_activation(backend, rng, act):
    nn = tl.nn
    make = (lambda: nn.GELU(approximate="tanh")) if act == "GELU-tanh" else getattr(nn, act)
    tl.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 8), make(), nn.Linear(8, 8), nn.Identity(), make(),
                          nn.Linear(8, 3), make()).double()
    x = tl.tensor(rng.standard_normal((4, 5)), requires_grad=True)
    y = model(x)
    assert y.grad_fn.name == "linear"  # the last Linear and its activation: one tape node
    # the same modules one by one, never fused
    h = x
    for m in model:
        h = m(h)
    g = tl.tensor(rng.standard_normal((4, 3)))
    grads = tl.autograd.grad(y, [x] + list(model.parameters()), g)
    plain = tl.autograd.grad(h, [x] + list(model.parameters()), g)
    np.testing.assert_allclose(to_np(y), to_np(h), rtol=1e-13, atol=1e-14)
    for a, e in zip(grads, plain):
        np.testing.assert_allclose(to_np(a), to_np(e), rtol=1e-12, atol=1e-14)
    # and PyTorch agrees
    tm = torch.nn.Sequential(
        *[torch.nn.Linear(m.in_features, m.out_features) if isinstance(m, nn.Linear)
          else torch.nn.Identity() if isinstance(m, nn.Identity)
          else torch.nn.GELU(approximate=m.approximate) if isinstance(m, nn.GELU)
          else getattr(torch.nn, type(m).__name__)() for m in model]).double()
    with torch.no_grad():
        for tp, p in zip(tm.parameters(), model.parameters()):
            tp.copy_(torch.from_numpy(to_np(p)))
    tx = torch.from_numpy(to_np(x)).requires_grad_()
    ty = tm(tx)
    tgrads = torch.autograd.grad(ty, [tx] + list(tm.parameters()), torch.from_numpy(to_np(g)))
    np.testing.assert_allclose(to_np(y), ty.detach().numpy(), rtol=1e-10, atol=1e-12)
    for a, e in zip(grads, tgrads):
        np.testing.assert_allclose(to_np(a), e.numpy(), rtol=1e-10, atol=1e-12)


def test_sequential_gelu_with_a_bad_approximate_is_not_fused(backend):
    model = tl.nn.Sequential(tl.nn.Linear(2, 2), tl.nn.GELU(approximate="bogus"))
    with pytest.raises(ValueError, match="approximate"):
        model(tl.ones(1, 2))


def test_linear_rejects_an_unknown_activation(backend):
    with pytest.raises(ValueError, match="activation"):
        tl.nn.functional.linear(tl.ones(2, 3), tl.ones(4, 3), activation="swish")


def test_fused_linear_non_contiguous_upstream_gradient(backend, rng):
    """A transposed upstream gradient (the fused kernels take only C-contiguous arrays)."""
    x = tl.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    w = tl.tensor(rng.standard_normal((5, 3)), requires_grad=True)
    b = tl.tensor(rng.standard_normal(5), requires_grad=True)
    y = tl.nn.functional.linear(x, w, b, activation="tanh")
    g = rng.standard_normal((5, 4))
    (y.T * tl.tensor(g)).sum().backward()
    tx, tw, tb = (torch.from_numpy(to_np(t)).requires_grad_() for t in (x, w, b))
    (torch.tanh(torch.nn.functional.linear(tx, tw, tb)).T * torch.from_numpy(g)).sum().backward()
    for a, e in ((x, tx), (w, tw), (b, tb)):
        np.testing.assert_allclose(to_np(a.grad), e.grad.numpy(), rtol=1e-10, atol=1e-12)


# -- the workspace: reused buffers never alias a live array ----------------------------------------
def test_workspace_reuses_only_free_buffers(pooled):
    from tensorlite.backends.numba_backend import Workspace
    ws = Workspace(min_bytes=64, per_shape=2, max_bytes=1 << 20)
    f64 = np.dtype(np.float64)
    a, b = ws.empty((8, 8), f64), ws.empty((8, 8), f64)
    assert not np.shares_memory(a, b)
    c = ws.empty((8, 8), f64)  # past per_shape: a plain array
    assert not np.shares_memory(c, a) and not np.shares_memory(c, b)
    kept = a.reshape(-1)[3:]  # a view of a view keeps the buffer busy
    del a
    d = ws.empty((8, 8), f64)
    assert not np.shares_memory(d, kept) and not np.shares_memory(d, b)
    del kept, d
    e = ws.empty((8, 8), f64)  # now one is free again: reused
    assert any(np.shares_memory(e, buf) for buf in ws.buffers[((8, 8), np.dtype(np.float64))])
    assert ws.empty((2,), f64).base is None  # small: never pooled
    ws.clear()
    assert not ws.buffers and ws.nbytes == 0


def test_workspace_knows_a_buffer_lent_once_and_whole(pooled):
    from tensorlite.backends.numba_backend import Workspace
    ws = Workspace(min_bytes=64)
    a = ws.empty((8, 8), np.dtype(np.float64))
    assert ws.lent_whole(a)
    b = a.reshape(-1)  # a second live view of the same buffer
    assert not ws.lent_whole(a) and not ws.lent_whole(b)
    del b
    assert ws.lent_whole(a)
    assert not ws.lent_whole(a[:2]) and not ws.lent_whole(a.T)  # part of it, another order
    assert not ws.lent_whole(np.empty((8, 8))) and not ws.lent_whole(np.empty(64)[:64])


def test_workspace_gradients_become_grad_without_a_copy(nb, pooled, monkeypatch):
    """A large gradient in a workspace buffer is adopted as .grad; one shared by two leaves is
    adopted by one of them and copied for the other."""
    d = tl.float64
    with tl.use_backend("numba"):
        a, b = (tl.randn(256, 128, dtype=d, requires_grad=True) for _ in range(2))
        w = tl.randn(128, 128, dtype=d, requires_grad=True)
        g = tl.randn(256, 128, dtype=d)
        copies = []
        real_copy = nb.copy
        monkeypatch.setattr(nb, "copy", lambda x: copies.append(x.shape) or real_copy(x))
        tl.nn.functional.linear(a + b, w).backward(g)
    assert copies == [(256, 128)]  # the gradient add hands to both a and b, once
    assert nb.workspace.lent_whole(w.grad._data)
    want = to_np(g) @ to_np(w)
    for t in (a, b):
        np.testing.assert_allclose(to_np(t.grad), want, rtol=1e-12)
    a.grad.add_(1.0)  # the two leaves' gradients are separate memory
    np.testing.assert_allclose(to_np(b.grad), want, rtol=1e-12)


def test_training_steps_never_overwrite_kept_tensors(nb):
    """Activations, outputs and gradients kept from one step are not reused by the next."""
    with tl.use_backend("numba"):
        tl.manual_seed(0)
        model = tl.nn.Sequential(tl.nn.Linear(64, 256), tl.nn.ReLU(), tl.nn.Linear(256, 256),
                                 tl.nn.Tanh(), tl.nn.Linear(256, 10))
        opt = tl.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        x = tl.randn(128, 64)
        y = tl.randint(0, 10, (128,))
        kept = []
        for _ in range(4):
            opt.zero_grad()
            out = model(x)
            tl.nn.functional.cross_entropy(out, y).backward()
            snapshot = [out.detach().numpy().copy()] + [p.grad.numpy().copy()
                                                          for p in model.parameters()]
            kept.append(([out] + [p.grad for p in model.parameters()], snapshot))
            opt.step()
        for tensors, snapshot in kept:
            for t, values in zip(tensors, snapshot):
                np.testing.assert_array_equal(t.detach().numpy(), values)


def test_matmul_and_copy_overrides(nb, ref, rng):
    for dtype in FLOATS:
        a, b = _rand(rng, (70, 300), dtype), _rand(rng, (300, 90), dtype)
        _same(nb.matmul(a, b), ref.matmul(a, b))
        _same(nb.matmul(a.T[:5], b[:70, :3]), ref.matmul(a.T[:5], b[:70, :3]))  # strided
        _same(nb.matmul(a[None], b), ref.matmul(a[None], b))
        with pytest.raises(ValueError):
            nb.matmul(a, a)
        for x in (a, a.T, a[0, 0], np.arange(5)):
            c = nb.copy(x)
            _same(c, ref.copy(x))
            assert not np.shares_memory(c, x)
