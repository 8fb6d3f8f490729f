"""The elementwise math of issue 12 where the fuzz (tests/opinfo_math.py) cannot reach: keyword
arguments, error types and messages, float64 gradcheck and second derivatives against torch,
accuracy of erfc/erfinv over dense grids, bounds that broadcast the input to a larger shape,
operators, and the new backend primitives on the CuPy host stand-in."""
import warnings

import numpy as np
import pytest
import torch

import tensorlite as tl
from cupy_standin import host_cuda, host_cupy  # noqa: F401  (pytest fixtures used by name)
from helpers import A, N, NC, P, U, assert_close, check_op, tl_tensor, to_np


# -- forward, backward and float64 gradcheck against torch (check_op) on every backend -----------
@pytest.mark.parametrize("fn, args", [
    (lambda lib, a, b: lib.atan2(a, b), (N(3, 4), N(4))),
    (lambda lib, a, b: lib.hypot(a, b), (N(3, 4), NC(N(3, 4)))),
    (lambda lib, a, b: lib.fmod(a, b), (N(5), P(5))),
    (lambda lib, a, b: lib.remainder(a, b), (N(2, 3), U(-2, -0.5, 3))),
    (lambda lib, a, b: lib.xlogy(a, b), (N(4), P(2, 4))),
    (lambda lib, a, b, w: lib.lerp(a, b, w), (N(2, 3), N(3), U(-0.5, 1.5, 2, 1))),
    (lambda lib, a, b: a.lerp(b, 0.7), (N(3), N(2, 3))),
    (lambda lib, a, b, c: lib.addcmul(a, b, c, value=-0.5), (N(3), N(2, 3), N(2, 1))),
    (lambda lib, a, b, c: lib.addcdiv(a, b, c, value=2), (N(2, 3), N(3), P(2, 3))),
    (lambda lib, a, lo, hi: lib.clamp(a, lo, hi), (N(2, 3), U(-1, -0.2, 2, 3), U(0.2, 1, 3))),
    (lambda lib, a, lo: lib.clip(a, min=lo), (N(4, 3), U(-1, 1, 3))),
    (lambda lib, a, hi: a.clamp(max=hi), (N(4), U(-1, 1, 4))),
    (lambda lib, a, b: lib.fmax(a, b) * lib.fmin(a, b), (N(3, 2), N(2))),
    (lambda lib, a, b: lib.float_power(a, b), (P(4), N(4))),
    (lambda lib, a: lib.logit(a, eps=0.1), (U(0.15, 0.85, 5),)),
    (lambda lib, a: lib.logit(a), (U(0.05, 0.95, 5),)),
    (lambda lib, a: lib.sinc(a), (N(6),)),
    (lambda lib, a: lib.erfinv(a) + lib.erfc(a) + lib.erf(a), (U(-0.9, 0.9, 6),)),
    (lambda lib, a: lib.tan(a) + lib.atan(a) + lib.asinh(a) + lib.sinh(a) + lib.cosh(a),
     (U(-1.2, 1.2, 6),)),
    (lambda lib, a: lib.asin(a) + lib.acos(a) + lib.atanh(a), (U(-0.9, 0.9, 6),)),
    (lambda lib, a: lib.acosh(a) + lib.log2(a) + lib.log10(a) + lib.log1p(a), (U(1.1, 3, 6),)),
    (lambda lib, a: lib.expm1(a) + lib.exp2(a) + lib.deg2rad(a) + lib.rad2deg(a), (N(6),)),
    (lambda lib, a: lib.frac(a) * 2 + lib.nan_to_num(a), (N(6),)),
], ids=["atan2", "hypot", "fmod", "remainder", "xlogy", "lerp_tensor", "lerp_number",
        "addcmul", "addcdiv", "clamp_tensors", "clip_min", "clamp_max", "fmax_fmin",
        "float_power", "logit_eps", "logit", "sinc", "erf_family", "trig", "inverse_trig",
        "logs", "exps", "frac_nan_to_num"])
def test_against_torch_and_gradcheck(backend, fn, args):
    check_op(fn, *args)


def test_zero_gradient_ops_are_recorded(backend):
    """floor, ceil, round, trunc, sign require grad on float input and backpropagate zeros
    (PyTorch records them): a loss made of them alone can call backward."""
    x = tl.tensor([0.4, -1.6, 2.5], requires_grad=True)
    for f in (tl.floor, tl.ceil, tl.round, tl.trunc, tl.fix, tl.sign, tl.sgn):
        y = f(x)
        assert y.requires_grad, f.__name__
        y.sum().backward()
        assert np.array_equal(x.grad.numpy(), np.zeros(3)), f.__name__
        x.grad = None


def test_second_order_against_torch(backend):
    rng = np.random.default_rng(0)
    a, b = rng.uniform(0.5, 2, (3,)), rng.uniform(-2, 2, (3,))
    w = rng.uniform(0, 1, (3,))
    for fn in (lambda lib, a, b, w: lib.atan2(a, b), lambda lib, a, b, w: lib.hypot(a, b),
               lambda lib, a, b, w: lib.lerp(a, b, w), lambda lib, a, b, w: lib.xlogy(a, b * b),
               lambda lib, a, b, w: lib.addcdiv(w, a, b * b + 1, value=0.5)):
        ins = {lib: [(torch.tensor(v, requires_grad=True) if lib is torch else
                      tl.tensor(v, requires_grad=True)) for v in (a, b, w)] for lib in (tl, torch)}
        grads = {}
        for lib, xs in ins.items():
            y = fn(lib, *xs)
            g1 = lib.autograd.grad(y.sum(), xs, create_graph=True, allow_unused=True)
            s = sum((g * g).sum() for g in g1 if g is not None)
            grads[lib] = lib.autograd.grad(s, xs, allow_unused=True)
        for g, e in zip(grads[tl], grads[torch]):
            assert (g is None) == (e is None)
            if g is not None:
                assert_close(g, e, rtol=1e-10, atol=1e-12)


# -- keyword arguments and defaults ----------------------------------------------------------------
def test_keyword_arguments():
    x = tl.tensor([1.2345, -2.5, 0.5, 125.0])
    t = torch.tensor(x.numpy())
    for d in (0, 1, 2, -1, -2):
        assert_close(tl.round(x, decimals=d), torch.round(t, decimals=d), rtol=0, atol=0)
        assert_close(x.round(decimals=d), t.round(decimals=d), rtol=0, atol=0)
    y = tl.tensor([0.0, 0.05, 0.5, 1.0])
    assert_close(tl.logit(y, eps=0.1), torch.logit(torch.tensor(y.numpy()), eps=0.1),
                 rtol=1e-6, atol=0)
    z = tl.tensor([float("nan"), float("inf"), -float("inf"), 1.0])
    assert_close(tl.nan_to_num(z, nan=2.0, posinf=3.0, neginf=-4.0),
                 torch.nan_to_num(torch.tensor(z.numpy()), nan=2.0, posinf=3.0, neginf=-4.0),
                 rtol=0, atol=0)
    assert_close(z.nan_to_num(), torch.tensor(z.numpy()).nan_to_num(), rtol=0, atol=0)
    a, b = tl.tensor([1.0, 2.0, float("nan")]), tl.tensor([1.05, 2.0, float("nan")])
    assert tl.isclose(a, b, rtol=0.1, atol=0.0, equal_nan=True).tolist() == [True] * 3
    assert a.isclose(b).tolist() == [False, True, False]
    assert tl.allclose(a, b, rtol=0.1, equal_nan=True) is True
    assert tl.equal(a[:2], tl.tensor([1, 2])) is True  # values compared across dtypes
    assert tl.equal(a, a) is False  # NaN equals nothing
    c = tl.tensor([1.0, 2.0])
    out = tl.addcmul(c, c, c, value=3)
    assert out.tolist() == [4.0, 14.0]
    assert tl.addcdiv(c, c, c, value=0.5).tolist() == [1.5, 2.5]
    assert tl.clamp(c, min=tl.tensor([1.5, 0.0]), max=tl.tensor([3.0, 1.0])).tolist() == \
        [1.5, 1.0]


def test_result_dtypes_as_torch():
    i, b = tl.tensor([-3, 0, 5]), tl.tensor([True, False, True])
    ti, tb = torch.tensor([-3, 0, 5]), torch.tensor([True, False, True])
    cases = [
        lambda lib, i, b: lib.erf(i), lambda lib, i, b: lib.tan(b),
        lambda lib, i, b: lib.deg2rad(i), lambda lib, i, b: lib.floor(i),
        lambda lib, i, b: lib.round(i), lambda lib, i, b: lib.sign(b),
        lambda lib, i, b: lib.sgn(i), lambda lib, i, b: lib.atan2(i, b),
        lambda lib, i, b: lib.xlogy(b, i), lambda lib, i, b: lib.remainder(i, 2),
        lambda lib, i, b: lib.fmod(i, 2.5), lambda lib, i, b: lib.fmax(i, b),
        lambda lib, i, b: lib.float_power(i, 2), lambda lib, i, b: lib.bitwise_and(i, b),
        lambda lib, i, b: lib.bitwise_xor(b, True), lambda lib, i, b: lib.nan_to_num(i),
        lambda lib, i, b: lib.addcmul(i, i, i, value=2), lambda lib, i, b: lib.isinf(i),
        lambda lib, i, b: lib.logical_xor(i, b), lambda lib, i, b: lib.clamp(i, tl.tensor(0.5)
                                                                           if lib is tl else
                                                                           torch.tensor(0.5)),
    ]
    for fn in cases:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert_close(fn(tl, i, b), fn(torch, ti, tb), rtol=1e-6, atol=0)


def test_clamp_bounds_that_broadcast_the_input():
    """Bounds of a larger shape broadcast the result (PyTorch's clamp.Tensor); each gets its
    gradient summed to its shape."""
    rng = np.random.default_rng(1)
    x, lo, hi = rng.standard_normal(3), rng.uniform(-1, 0, (2, 3)), rng.uniform(0, 1, (2, 3))
    hi[0, 0] = lo[0, 0] - 0.5  # min > max: max wins and takes the gradient
    g = rng.standard_normal((2, 3))
    res = {}
    for lib in (tl, torch):
        ts = [lib.tensor(v, requires_grad=True) for v in (x, lo, hi)]
        y = lib.clamp(*ts)
        res[lib] = (y, lib.autograd.grad(y, ts, lib.tensor(g)))
    assert_close(res[tl][0], res[torch][0], rtol=0, atol=0)
    for a, e in zip(res[tl][1], res[torch][1]):
        assert_close(a, e, rtol=1e-12, atol=0)


def test_clamp_of_bool_with_one_tensor_bound_as_torch():
    b, t = [True, False], [False, True]
    assert tl.clamp(tl.tensor(b), tl.tensor(t)).tolist() == \
        torch.clamp(torch.tensor(b), torch.tensor(t)).tolist()
    assert tl.clamp(tl.tensor(b), None, tl.tensor(t)).tolist() == \
        torch.clamp(torch.tensor(b), None, torch.tensor(t)).tolist()


def test_clamp_in_place_with_tensor_bounds_through_a_graph():
    x = tl.tensor([-2.0, 0.5, 3.0], requires_grad=True)
    lo, hi = tl.tensor([-1.0, -1.0, -1.0], requires_grad=True), tl.tensor(1.0)
    y = x * 1
    y.clamp_(lo, hi)
    y.sum().backward()
    assert y.tolist() == [-1.0, 0.5, 1.0]
    assert x.grad.tolist() == [0.0, 1.0, 0.0]
    assert lo.grad.tolist() == [1.0, 0.0, 0.0]


# -- errors: torch's exception types, messages that name the op, the operands and the fix --------
@pytest.mark.parametrize("call, exc, words", [
    (lambda: tl.fmod(tl.tensor([1, 2]), tl.tensor([1, 0])), RuntimeError,
     ("fmod", "ZeroDivisionError", "int64[2]")),
    (lambda: tl.remainder(tl.tensor([1, 2]), 0), RuntimeError, ("remainder", "ZeroDivisionError")),
    (lambda: tl.bitwise_and(tl.tensor([1.0]), tl.tensor([1.0])), NotImplementedError,
     ("bitwise_and", "float32", "integer or bool")),
    (lambda: tl.bitwise_not(tl.tensor([1.0])), NotImplementedError, ("bitwise_not", "float32")),
    (lambda: tl.lerp(tl.tensor([1.0]), tl.tensor([1.0], dtype=tl.float64), 0.5), RuntimeError,
     ("lerp", "`end`", "float64")),
    (lambda: tl.lerp(tl.tensor([1]), tl.tensor([1]), 0.5), NotImplementedError,
     ("lerp", "int64")),
    (lambda: tl.isclose(tl.tensor([1]), tl.tensor([1.0])), RuntimeError,
     ("isclose", "int64", "float32")),
    (lambda: tl.isclose(tl.tensor([1.0]), tl.tensor([1.0]), rtol=-1), RuntimeError,
     ("isclose", "rtol")),
    (lambda: tl.hypot(tl.tensor([1]), tl.tensor([1])), NotImplementedError, ("hypot", "int64")),
    (lambda: tl.hypot(tl.tensor([1.0]), 2.0), TypeError, ("hypot", "other")),
    (lambda: tl.atan2(tl.tensor([1.0]), 2), TypeError, ("atan2", "Tensor")),
    (lambda: tl.fmax(tl.tensor([1.0]), 2), TypeError, ("fmax",)),
    (lambda: tl.frac(tl.tensor([1])), NotImplementedError, ("frac", "int64")),
    (lambda: tl.floor(tl.tensor([True])), NotImplementedError, ("floor", "bool")),
    (lambda: tl.round(tl.tensor([1]), decimals=1), NotImplementedError, ("round", "decimals")),
    (lambda: tl.round(tl.tensor([1]), decimals=0), NotImplementedError, ("round", "int64")),
    (lambda: tl.clamp(tl.tensor([True]), False, True), NotImplementedError, ("clamp", "bool")),
    (lambda: tl.round(tl.tensor([1.0]), decimals=1.0), TypeError, ("round", "decimals")),
    (lambda: tl.tensor([1.0]).float_power_(2), RuntimeError, ("float_power_", "float64")),
    (lambda: tl.addcdiv(tl.tensor([1.0]), tl.tensor([1]), tl.tensor([2])), RuntimeError,
     ("addcdiv", "integer division")),
    (lambda: tl.addcmul(tl.tensor([True]), tl.tensor([True]), tl.tensor([True])),
     NotImplementedError, ("addcmul", "bool")),
    (lambda: tl.clamp(tl.tensor([1.0])), RuntimeError, ("clamp", "min", "max")),
    (lambda: tl.clamp(tl.tensor([1.0]), tl.tensor([0.0]), 1.0), TypeError,
     ("clamp", "tensor bound", "number")),
    (lambda: tl.clamp(tl.tensor([True]), tl.tensor([False]), tl.tensor([True])),
     NotImplementedError, ("clamp", "bool")),
    (lambda: tl.logical_or(tl.tensor([True]), True), TypeError, ("logical_or", "Tensor")),
    (lambda: tl.addcmul(tl.ones(2), tl.ones(3), tl.ones(2)), ValueError,
     ("addcmul", "[2]", "[3]", "broadcast")),
])
def test_errors_as_torch(call, exc, words):
    with pytest.raises(exc) as info:
        call()
    for w in words:
        assert w in str(info.value), (w, str(info.value))


def test_torch_raises_the_same_types():
    """The cases above raise in torch too, with the same exception types."""
    cases = [
        (lambda: torch.fmod(torch.tensor([1, 2]), torch.tensor([1, 0])), RuntimeError),
        (lambda: torch.bitwise_and(torch.tensor([1.0]), torch.tensor([1.0])),
         NotImplementedError),
        (lambda: torch.lerp(torch.tensor([1.0]), torch.tensor([1.0], dtype=torch.float64), 0.5),
         RuntimeError),
        (lambda: torch.hypot(torch.tensor([1.0]), 2.0), TypeError),
        (lambda: torch.frac(torch.tensor([1])), NotImplementedError),
        (lambda: torch.tensor([1.0]).float_power_(2), RuntimeError),
        (lambda: torch.clamp(torch.tensor([1.0])), RuntimeError),
        (lambda: torch.clamp(torch.tensor([1.0]), torch.tensor([0.0]), 1.0), TypeError),
        (lambda: torch.logical_or(torch.tensor([True]), True), TypeError),
        (lambda: torch.round(torch.tensor([1]), decimals=0), NotImplementedError),
        (lambda: torch.clamp(torch.tensor([True]), False, True), NotImplementedError),
        (lambda: torch.clamp(torch.tensor([True]), torch.tensor([False]), torch.tensor([True])),
         NotImplementedError),
    ]
    for call, exc in cases:
        with pytest.raises(exc):
            call()


def test_a_number_dividend_has_no_remainder_derivative():
    x = tl.tensor([1.5, 2.5], requires_grad=True)
    y = tl.remainder(3.0, x)
    with pytest.raises(RuntimeError, match="remainder"):
        y.sum().backward()


# -- operators ------------------------------------------------------------------------------------
def test_or_xor_mod_operators():
    a, b = np.array([5, -3, 12]), np.array([3, 6, -5])
    ta, tb = tl.tensor(a), tl.tensor(b)
    assert (ta | tb).tolist() == (a | b).tolist()
    assert (ta ^ 6).tolist() == (a ^ 6).tolist()
    assert (6 | ta).tolist() == (6 | a).tolist()
    assert (ta % tb).tolist() == (a % b).tolist()
    assert (7 % tb).tolist() == (7 % b).tolist()
    m = tl.tensor([True, False])
    assert (m | tl.tensor([False, False])).tolist() == [True, False]
    c = tl.tensor(a)
    c |= 1
    c ^= 2
    c %= 4
    assert c.tolist() == (((a | 1) ^ 2) % 4).tolist()
    with pytest.raises(NotImplementedError):
        tl.tensor([1.0]) | tl.tensor([2.0])


def test_and_invert_operators_are_bitwise_on_integers():
    for lib in (tl, torch):
        a = lib.tensor([5, 6])
        assert (a & 3).tolist() == [1, 2] and (3 & a).tolist() == [1, 2]
        assert (~a).tolist() == [-6, -7]
        m = lib.tensor([True, False])
        assert (m & lib.tensor([True, True])).tolist() == [True, False]
        assert (~m).tolist() == [False, True]
    with pytest.raises((TypeError, NotImplementedError, RuntimeError)):
        ~tl.tensor([1.5])  # as torch: no bitwise not of a float


# -- accuracy of the new special functions --------------------------------------------------------
def test_erfc_and_erfinv_match_torch_over_dense_grids():
    x = np.concatenate([np.linspace(-30, 30, 6001), [0.0, -0.0, 1e-300, np.inf, -np.inf, np.nan]])
    assert_close(tl.erfc(tl.tensor(x)), torch.erfc(torch.tensor(x)), rtol=1e-14, atol=0)
    y = np.concatenate([np.linspace(-1, 1, 4001),
                        np.linspace(0.99, 1, 5000, dtype=np.float32).astype(np.float64),
                        [1.5, -1.0, np.nan]])
    assert_close(tl.erfinv(tl.tensor(y)), torch.erfinv(torch.tensor(y)), rtol=1e-10, atol=0)
    y32 = y.astype(np.float32)
    assert_close(tl.erfinv(tl.tensor(y32)), torch.erfinv(torch.tensor(y32)), rtol=1e-6, atol=0)


# -- the backend primitives on the CuPy host stand-in -------------------------------------------
def test_math_on_the_device_host_stand_in(host_cuda):
    """The new primitives run on the CuPy backend code (the host stand-in: CuPy arrays that
    refuse host arrays) and match torch."""
    rng = np.random.default_rng(2)
    x, y = rng.uniform(-0.95, 0.95, (3, 4)), rng.uniform(0.5, 2, (4,))
    i = np.array([7, -3, 4, 0])
    fns = [lambda lib, x, y, i: lib.erfinv(x) + lib.erfc(x) + lib.tan(x) + lib.asin(x),
           lambda lib, x, y, i: lib.atan2(x, y) + lib.hypot(x, y) + lib.fmod(x, y),
           lambda lib, x, y, i: lib.remainder(x, y) + lib.fmax(x, y) + lib.xlogy(y, y),
           lambda lib, x, y, i: lib.round(x, decimals=1) + lib.floor(x) + lib.sinc(x),
           lambda lib, x, y, i: lib.lerp(x, y.expand(3, 4) if lib is tl else y.expand(3, 4),
                                         0.3),
           lambda lib, x, y, i: lib.bitwise_xor(i, 5) + (i | 2) + lib.remainder(i, 3)]
    for fn in fns:
        out = fn(tl, tl.tensor(x, device="cuda"), tl.tensor(y, device="cuda"),
                 tl.tensor(i, device="cuda"))
        assert out.device == "cuda"
        expected = fn(torch, torch.tensor(x), torch.tensor(y), torch.tensor(i))
        assert_close(out.cpu(), expected, rtol=1e-12, atol=1e-14)
