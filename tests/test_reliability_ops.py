"""Regression tests for op defects the differential fuzz (tests/test_fuzz.py) found: bool operands
PyTorch refuses, gradients at NaN/inf (max, logsumexp, pow, leaky_relu, var), and linear with
size-0 feature dims.  Each runs on every backend and is compared with PyTorch (the oracle)."""
import numpy as np
import pytest
import torch

import tensorlite as tl
from helpers import A, check_op, check_second_order

NAN, INF = float("nan"), float("inf")


# -- bool operands that PyTorch refuses ---------------------------------------------------------
def _bool_cases(lib):
    F = lib.nn.functional
    return {
        "number_minus_tensor": lambda: False - lib.tensor([1.0]),
        "bool_tensor_minus_number": lambda: lib.tensor([True]) - 1.5,
        "bool_minus_bool": lambda: lib.tensor([True]) - lib.tensor([False]),
        "sub_fn_bool_number": lambda: lib.sub(lib.tensor([1.0]), True),
        "sub_inplace_bool_tensor": lambda: lib.tensor([1.0]).sub_(lib.tensor([True])),
        "sub_inplace_python_bool": lambda: lib.tensor([3]).sub_(True),
        "isub_python_bool": lambda: lib.tensor([3.0]).__isub__(True),
        "neg": lambda: -lib.tensor([True]),
        "neg_inplace": lambda: lib.tensor([True]).neg_(),
        "relu": lambda: lib.tensor([True]).relu(),
        "relu_inplace": lambda: lib.tensor([True]).relu_(),
        "F_relu": lambda: F.relu(lib.tensor([True, False])),
        "abs": lambda: lib.tensor([True]).abs(),
        "abs_inplace": lambda: lib.tensor([True]).abs_(),
        "var_int": lambda: lib.tensor([1, 2, 4]).var(),
        "std_int": lambda: lib.tensor([1, 2, 4]).std(0),
        "var_bool": lambda: lib.var(lib.tensor([True, False])),
    }


@pytest.mark.parametrize("name", list(_bool_cases(torch)))
def test_refused_dtypes_raise_as_torch(backend, name):
    with pytest.raises(Exception) as expected:
        _bool_cases(torch)[name]()
    with pytest.raises(expected.type) as got:  # the same exception type as torch
        _bool_cases(tl)[name]()
    assert str(got.value).startswith(("sub", "neg", "relu", "abs", "var", "std")), got.value


def test_sub_message_names_the_op_and_the_fix(backend):
    with pytest.raises(RuntimeError, match=r"^sub: subtraction.*bool.*logical_not"):
        tl.tensor([True]) - 1
    with pytest.raises(RuntimeError, match=r"^sub_: subtraction.*bool"):
        tl.tensor([1.0]).sub_(other=True)
    with pytest.raises(RuntimeError, match=r"^neg: negation.*bool.*logical_not"):
        -tl.tensor([False])


def test_allowed_subtractions_still_work(backend):
    x = tl.tensor([3.0])
    x.sub_(1)
    x -= tl.tensor([0.5])
    assert x.tolist() == [1.5]
    assert (tl.tensor([3]) - 1).tolist() == [2]
    assert (-tl.tensor([2])).tolist() == [-2]
    assert tl.tensor([-2]).abs().tolist() == [2]


# -- gradients at NaN and inf --------------------------------------------------------------------
CASES = [
    ("max_all_nan", lambda lib, x: x.max(), A([NAN, 1.0, 2.0])),
    ("min_all_nan", lambda lib, x: x.min(), A([1.0, NAN, -2.0, NAN])),
    ("max_all_ties", lambda lib, x: x.max(), A([[2.0, 1.0], [2.0, 2.0]])),
    ("amax_nan", lambda lib, x: x.amax(), A([NAN, 1.0, 2.0])),
    ("logsumexp_inf", lambda lib, x: lib.logsumexp(x, 0), A([INF, 1e30])),
    ("logsumexp_neg_inf", lambda lib, x: lib.logsumexp(x, 1), A([[-INF, -INF], [1.0, INF]])),
    ("logsumexp_keepdim", lambda lib, x: lib.logsumexp(x, (0, 1), keepdim=True),
     A([[1.0, 2.0], [3.0, -1.0]])),
    ("logsumexp_0d", lambda lib, x: lib.logsumexp(x, 0), A(1.5)),
    ("pow_half_neg_inf", lambda lib, x: x ** 0.5, A([-INF, 4.0, 0.0, -0.0, -1.0])),
    ("pow_neg_half", lambda lib, x: x ** -0.5, A([-INF, 4.0, 0.0, -0.0, INF])),
    ("var_0d_dim", lambda lib, x: x.var(0, correction=3), A(-1.5)),
    ("var_inf_dof0", lambda lib, x: x.var(correction=2, keepdim=True), A(-INF)),
    ("std_const_dof0", lambda lib, x: x.std(correction=2), A([2.0, 2.0])),
]


@pytest.mark.filterwarnings("ignore")  # NumPy's and torch's warnings about inf, NaN and dof
@pytest.mark.parametrize("fn, args", [pytest.param(c[1], c[2:], id=c[0]) for c in CASES])
def test_gradients_as_torch(backend, fn, args):
    check_op(fn, *args, gradcheck=False)


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("slope", [0.2, 0.01, -0.5])
def test_leaky_relu_second_order_at_nan(backend, slope):
    fn = lambda lib, x, w: lib.nn.functional.leaky_relu(x * w, slope)  # noqa: E731
    check_second_order(fn, A([NAN, 1.0, -1.0, 0.0, -INF]), A([1.5, 0.5, 2.0, 1.0, 1.0]),
                       gradgradcheck=False)


def test_leaky_relu_second_order_is_torch_off_nan(backend):
    fn = lambda lib, x, w: lib.nn.functional.leaky_relu(x * w, 0.2) ** 2  # noqa: E731
    check_second_order(fn, A([0.5, 1.0, -1.0, -3.0]), A([1.5, 0.5, 2.0, 1.0]))


# -- linear with size-0 feature dims -------------------------------------------------------------
def _linear(lib, x, w, *b):
    return lib.nn.functional.linear(x, w, *b)


@pytest.mark.parametrize("shapes", [
    ((0,), (0, 0)), ((2,), (0, 2)), ((0,), (3, 0)), ((4, 0), (3, 0), (3,)),
    ((2, 3, 0), (2, 0), (2,)), ((0, 3), (2, 3)), ((2, 0, 3), (0, 3), (0,)), ((2, 3), (0, 3)),
], ids=str)
def test_linear_size0_features_as_torch(backend, shapes):
    rng = np.random.default_rng(0)
    check_op(_linear, *(A(rng.standard_normal(s)) for s in shapes), gradcheck=False)


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "gelu"])
@pytest.mark.parametrize("shapes", [((4, 0), (3, 0), (3,)), ((2,), (0, 2), (0,))], ids=str)
def test_fused_linear_size0_features(backend, shapes, activation):
    rng = np.random.default_rng(1)
    xs, ws, bs = (rng.standard_normal(s) for s in shapes)
    x, w, b = (tl.tensor(a, requires_grad=True) for a in (xs, ws, bs))
    y = tl.nn.functional.linear(x, w, b, activation=activation)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (xs, ws, bs))
    act = {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid,
           "gelu": torch.nn.functional.gelu}[activation]
    ty = act(torch.nn.functional.linear(tx, tw, tb))
    assert tuple(y.shape) == tuple(ty.shape)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-6, atol=1e-7)
    g = rng.standard_normal(tuple(ty.shape))
    for create_graph in (False, True):
        got = tl.autograd.grad(y, [x, w, b], tl.tensor(g), retain_graph=True,
                               create_graph=create_graph)
        want = torch.autograd.grad(ty, [tx, tw, tb], torch.tensor(g), retain_graph=True)
        for a, e in zip(got, want):
            assert tuple(a.shape) == tuple(e.shape)
            np.testing.assert_allclose(a.detach().numpy(), e.numpy(), rtol=1e-6, atol=1e-7)


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("beta, threshold", [(0.5, 1.5), (1.0, 20.0), (2.0, 1.0)])
def test_softplus_second_order_as_torch(backend, beta, threshold):
    """torch's softplus_double_backward masks with beta x < threshold (strict): 0 at equality."""
    fn = lambda lib, x: lib.nn.functional.softplus(x, beta, threshold)  # noqa: E731
    check_second_order(fn, A([3.0, 0.75, 1.0, -2.0, NAN, 30.0]), gradgradcheck=False)
