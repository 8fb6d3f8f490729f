"""The losses of tensorlite.nn (functional and modules) against torch, on every backend.

Each loss is written once as ``fn(lib, ...)`` over ``lib.nn.functional``; ``check_op`` compares
forward values and gradients (random upstream gradient, float64 and float32) and runs a
float64 gradcheck.  Targets that carry no gradient are ``Const`` (their dtype is kept).
"""
import warnings

import numpy as np
import pytest
import torch

import tensorlite as tl
import tensorlite.nn as nn
import tensorlite.nn.functional as tlF
from helpers import functional as F  # as torch.nn.functional is
from helpers import (FWD_TOL, GRAD_TOL, NC, A, Const, N, U, assert_close, case, check_op,
                     check_second_order, tl_tensor, to_np)

F64 = np.dtype(np.float64)
REDUCTIONS = ["none", "mean", "sum"]


def classes(shape, C, ignore=None, ignore_index=-100):
    """Random class indices (int64); every ``ignore``-th entry set to ``ignore_index``."""
    t = np.random.randint(0, C, size=shape).astype(np.int64)
    if ignore:
        t.reshape(-1)[::ignore] = ignore_index
    return Const(t)


def class_weight(C):
    """Positive class weights: a non-differentiable float64 tensor cast with the input."""
    return np.random.uniform(0.5, 2.0, C)


# -- cross_entropy with class indices --------------------------------------------------------------
CE_SHAPES = [
    case("2d", (6, 5), (6,)),
    case("3d", (3, 4, 5), (3, 5)),
    case("4d", (2, 3, 2, 3), (2, 2, 3)),
    case("unbatched", (5,), ()),
]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape, tshape, opts", CE_SHAPES)
@pytest.mark.parametrize("weighted", [False, True], ids=["plain", "weighted"])
@pytest.mark.parametrize("smoothing", [0.0, 0.25], ids=["hard", "smooth"])
def test_cross_entropy_class_indices(backend, shape, tshape, opts, reduction, weighted,
                                     smoothing):
    C = shape[1] if len(shape) > 1 else shape[0]
    small = np.prod(shape) <= 20
    check_op(lambda lib, x, t, w: F(lib).cross_entropy(
        x, t, weight=w.to(x.dtype) if weighted else None, reduction=reduction,
        label_smoothing=smoothing), N(*shape), classes(tshape, C),
        Const(class_weight(C)), gradcheck=small)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True], ids=["plain", "weighted"])
@pytest.mark.parametrize("smoothing", [0.0, 0.3], ids=["hard", "smooth"])
@pytest.mark.parametrize("ignore_index", [-100, 2], ids=["ignore_default", "ignore_2"])
def test_cross_entropy_ignore_index(backend, reduction, weighted, smoothing, ignore_index):
    t = classes((4, 3), 4, ignore=3, ignore_index=ignore_index)
    check_op(lambda lib, x, t, w: F(lib).cross_entropy(
        x, t, weight=w.to(x.dtype) if weighted else None, ignore_index=ignore_index,
        reduction=reduction, label_smoothing=smoothing), N(4, 4, 3), t,
        Const(class_weight(4)), gradcheck=False)


def test_cross_entropy_noncontiguous_gradcheck_and_extreme_logits(backend):
    check_op(lambda lib, x, t: F(lib).cross_entropy(x, t), NC(N(4, 3)), classes(4, 3))
    # logits far apart: log_softmax must not overflow or lose the picked term
    x = np.array([[1000.0, -1000.0, 0.0], [-500.0, 500.0, 499.0]])
    check_op(lambda lib, x, t: F(lib).cross_entropy(x, t, reduction="none"), A(x),
             Const(np.array([1, 2])), gradcheck=False)


def test_cross_entropy_all_ignored(backend):
    """'mean' over no counted target is nan (0/0), as torch; the gradient is zero."""
    x = tl_tensor(np.random.standard_normal((3, 4)), True)
    loss = tlF.cross_entropy(x, tl_tensor(np.full(3, -100)))
    expected = torch.nn.functional.cross_entropy(torch.randn(3, 4), torch.full((3,), -100))
    assert np.isnan(loss.item()) and torch.isnan(expected)
    loss.backward()
    np.testing.assert_array_equal(to_np(x.grad), 0.0)


def test_cross_entropy_is_one_fused_node(backend):
    x = tl_tensor(np.random.standard_normal((8, 5)), True)
    loss = tlF.cross_entropy(x, tl_tensor(np.random.randint(0, 5, 8)))
    assert loss.grad_fn.name == "cross_entropy"
    assert loss.grad_fn.next == [x]
    with tl.no_grad():
        again = tlF.cross_entropy(x, tl_tensor(np.zeros(8, np.int64)))
    assert again.grad_fn is None


@pytest.mark.parametrize("kw", [
    dict(),
    dict(reduction="sum", label_smoothing=0.2),
    dict(reduction="none", ignore_index=1),
], ids=["mean", "sum_smooth", "none_ignore"])
def test_cross_entropy_double_backward(backend, kw):
    check_second_order(lambda lib, x, t: F(lib).cross_entropy(x, t, **kw), N(3, 4),
                       classes(3, 4))


def test_cross_entropy_double_backward_weighted_spatial(backend):
    check_second_order(lambda lib, x, t, w: F(lib).cross_entropy(
        x, t, weight=w, label_smoothing=0.1, ignore_index=0), N(2, 3, 2), classes((2, 2), 3),
        Const(class_weight(3)))


# -- cross_entropy with class probabilities --------------------------------------------------------
def probs(*shape):
    p = np.random.uniform(0.1, 1.0, shape)
    axis = 1 if len(shape) > 1 else 0
    return A(p / p.sum(axis=axis, keepdims=True))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 2), (3,)], ids=["2d", "3d", "unbatched"])
@pytest.mark.parametrize("weighted", [False, True], ids=["plain", "weighted"])
@pytest.mark.parametrize("smoothing", [0.0, 0.2], ids=["hard", "smooth"])
def test_cross_entropy_probability_targets(backend, reduction, shape, weighted, smoothing):
    """Both the logits and the target probabilities are differentiable."""
    C = shape[1] if len(shape) > 1 else shape[0]
    check_op(lambda lib, x, p, w: F(lib).cross_entropy(
        x, p, weight=w.to(x.dtype) if weighted else None, reduction=reduction,
        label_smoothing=smoothing), N(*shape), probs(*shape), Const(class_weight(C)))


def test_cross_entropy_probability_targets_double_backward(backend):
    check_second_order(lambda lib, x, p: F(lib).cross_entropy(x, p, label_smoothing=0.1),
                       N(3, 4), probs(3, 4))


# -- nll_loss --------------------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True], ids=["plain", "weighted"])
@pytest.mark.parametrize("shape, tshape, opts", CE_SHAPES)
def test_nll_loss(backend, reduction, weighted, shape, tshape, opts):
    C = shape[1] if len(shape) > 1 else shape[0]
    check_op(lambda lib, x, t, w: F(lib).nll_loss(
        x, t, weight=w.to(x.dtype) if weighted else None, reduction=reduction),
        N(*shape), classes(tshape, C), Const(class_weight(C)), gradcheck=len(shape) < 3)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss_ignore_index_and_second_order(backend, reduction):
    check_op(lambda lib, x, t, w: F(lib).nll_loss(x, t, weight=w.to(x.dtype), ignore_index=1,
                                                  reduction=reduction),
             N(6, 3), classes(6, 3, ignore=2, ignore_index=1), Const(class_weight(3)))
    check_second_order(lambda lib, x, t: F(lib).nll_loss(x.log_softmax(1) * x, t,
                                                         reduction=reduction),
                       N(3, 4), classes(3, 4, ignore=2))


# -- regression losses -----------------------------------------------------------------------------
REGRESSION = [
    case("mse", lambda F, x, y, **k: F.mse_loss(x, y, **k)),
    case("l1", lambda F, x, y, **k: F.l1_loss(x, y, **k)),
    case("smooth_l1", lambda F, x, y, **k: F.smooth_l1_loss(x, y, **k)),
    case("smooth_l1_beta0", lambda F, x, y, **k: F.smooth_l1_loss(x, y, beta=0.0, **k)),
    case("smooth_l1_beta_half", lambda F, x, y, **k: F.smooth_l1_loss(x, y, beta=0.5, **k)),
    case("smooth_l1_beta3", lambda F, x, y, **k: F.smooth_l1_loss(x, y, beta=3.0, **k)),
]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("fn, opts", REGRESSION)
def test_regression_losses(backend, fn, opts, reduction):
    """Input and target both differentiable; |x - y| stays away from the kinks."""
    y = np.random.standard_normal((3, 4))
    d = np.random.uniform(0.05, 2.5, (3, 4)) * np.random.choice([-1, 1], (3, 4))
    d = np.where(np.abs(np.abs(d) - 0.5) < 0.02, d * 1.1, d)  # off beta=0.5's kink
    check_op(lambda lib, x, y: fn(F(lib), x, y, reduction=reduction), A(y + d), A(y))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", ["mse_loss", "l1_loss"])
def test_weighted_regression_losses(backend, name, reduction):
    check_op(lambda lib, x, y, w: getattr(F(lib), name)(x, y, reduction=reduction, weight=w),
             N(3, 4), N(3, 4), U(0.5, 2.0, 3, 4))


def test_regression_losses_at_kinks_match_torch(backend):
    """|d| == 0 (l1's and smooth_l1's kink) and |d| == beta: the subgradients torch picks."""
    x = np.array([0.0, 1.0, -1.0, 0.5, 2.0, -0.5])
    y = np.zeros(6)
    for fn in ["l1_loss", "smooth_l1_loss", "mse_loss"]:
        check_op(lambda lib, x, y: getattr(F(lib), fn)(x, y, reduction="none"), A(x), A(y),
                 gradcheck=False)
    check_op(lambda lib, x, y: F(lib).smooth_l1_loss(x, y, beta=0.5, reduction="none"), A(x),
             A(y), gradcheck=False)


def test_regression_broadcast_warns_like_torch(backend):
    with pytest.warns(UserWarning, match="target size"):
        out = tlF.mse_loss(tl_tensor(np.ones((3, 1))), tl_tensor(np.zeros(4)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = torch.nn.functional.mse_loss(torch.ones(3, 1, dtype=torch.float64),
                                                torch.zeros(4, dtype=torch.float64))
    assert_close(out, expected, **FWD_TOL[F64])


def test_regression_second_order(backend):
    check_second_order(lambda lib, x, y: F(lib).smooth_l1_loss(x * x, y, beta=2.0), N(3, 4),
                       N(3, 4))


# -- binary cross entropy --------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True], ids=["plain", "weighted"])
def test_binary_cross_entropy(backend, reduction, weighted):
    """Input probabilities and soft targets, both differentiable; an optional weight that
    broadcasts (one per column)."""
    check_op(lambda lib, x, t, w: F(lib).binary_cross_entropy(
        x, t, weight=w.to(x.dtype) if weighted else None, reduction=reduction),
        U(0.05, 0.95, 4, 3), U(0, 1, 4, 3), Const(np.random.uniform(0.5, 2, 3)))


def test_binary_cross_entropy_at_zero_and_one(backend):
    """log is clamped at -100 and the gradient divides by max(x (1 - x), 1e-12), as torch."""
    x = np.array([0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.5])
    t = np.array([0.0, 1.0, 0.0, 1.0, 0.3, 0.7, 1.0])
    check_op(lambda lib, x, t: F(lib).binary_cross_entropy(x, t, reduction="none"), A(x),
             Const(t), gradcheck=False, float32=False)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("variant", ["plain", "weight", "pos_weight", "both"])
def test_binary_cross_entropy_with_logits(backend, reduction, variant):
    w = np.random.uniform(0.5, 2, (4, 3)) if variant in ("weight", "both") else None
    pw = np.random.uniform(0.5, 3, 3) if variant in ("pos_weight", "both") else None

    def fn(lib, x, t):
        cast = (lambda a: None if a is None else lib.tensor(a, dtype=x.dtype))
        return F(lib).binary_cross_entropy_with_logits(x, t, weight=cast(w), pos_weight=cast(pw),
                                                       reduction=reduction)
    check_op(fn, N(4, 3), U(0, 1, 4, 3))


def test_binary_cross_entropy_with_logits_is_stable(backend):
    """Huge logits give finite losses and gradients; logit 0 has gradient sigmoid(0) - t."""
    x = np.array([-1000.0, -50.0, 0.0, 0.0, 50.0, 1000.0])
    t = np.array([1.0, 1.0, 0.0, 0.75, 0.0, 0.3])
    check_op(lambda lib, x, t: F(lib).binary_cross_entropy_with_logits(
        x, t, reduction="none", pos_weight=lib.tensor(2.0, dtype=x.dtype)), A(x), A(t),
        gradcheck=False)


def test_binary_cross_entropy_second_order(backend):
    check_second_order(lambda lib, x, t: F(lib).binary_cross_entropy(x.sigmoid(), t), N(3, 2),
                       U(0, 1, 3, 2))
    check_second_order(lambda lib, x, t, pw: F(lib).binary_cross_entropy_with_logits(
        x, t, pos_weight=pw), N(3, 2), U(0, 1, 3, 2), Const(np.array([0.5, 2.0])))


# -- legacy arguments and modules ------------------------------------------------------------------
@pytest.mark.parametrize("size_average, reduce", [(None, False), (False, None), (True, True),
                                                  (False, True), (True, False)])
def test_legacy_size_average_and_reduce(backend, size_average, reduce):
    """The deprecated flags pick the reduction as torch does, with torch's warning."""
    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
        check_op(lambda lib, x, y: F(lib).mse_loss(x, y, size_average=size_average,
                                                   reduce=reduce), N(3, 2), N(3, 2),
                 gradcheck=False)
        check_op(lambda lib, x, t: F(lib).cross_entropy(x, t, size_average=size_average,
                                                        reduce=reduce),
                 N(3, 4), classes(3, 4), gradcheck=False)


def _weights(lib, C, dtype):
    return lib.tensor(np.linspace(0.5, 2.0, C), dtype=dtype)


MODULES = [
    case("ce", lambda nn, lib: nn.CrossEntropyLoss(), "classes"),
    case("ce_full", lambda nn, lib: nn.CrossEntropyLoss(
        weight=_weights(lib, 4, lib.float64), ignore_index=1, reduction="sum",
        label_smoothing=0.1), "classes"),
    case("ce_probs", lambda nn, lib: nn.CrossEntropyLoss(label_smoothing=0.2), "probs"),
    case("nll", lambda nn, lib: nn.NLLLoss(weight=_weights(lib, 4, lib.float64),
                                           reduction="none"), "classes"),
    case("mse", lambda nn, lib: nn.MSELoss(reduction="sum"), "real"),
    case("l1", lambda nn, lib: nn.L1Loss(), "real"),
    case("smooth_l1", lambda nn, lib: nn.SmoothL1Loss(beta=0.5, reduction="none"), "real"),
    case("bce", lambda nn, lib: nn.BCELoss(weight=_weights(lib, 4, lib.float64)), "unit"),
    case("bce_logits", lambda nn, lib: nn.BCEWithLogitsLoss(
        weight=_weights(lib, 4, lib.float64), pos_weight=_weights(lib, 4, lib.float64) * 2,
        reduction="sum"), "unit"),
    case("legacy_args", lambda nn, lib: nn.MSELoss(size_average=False), "real"),
]


@pytest.mark.parametrize("make, target, opts", MODULES)
def test_loss_modules_match_torch(backend, make, target, opts):
    x = np.random.standard_normal((5, 4))
    t = {"classes": np.random.randint(0, 4, 5), "real": np.random.standard_normal((5, 4)),
         "probs": np.random.dirichlet(np.ones(4), 5),
         "unit": np.random.uniform(0, 1, (5, 4))}[target]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the deprecated size_average, on both sides
        tl_mod, th_mod = make(nn, tl), make(torch.nn, torch)
    if isinstance(tl_mod, nn.BCELoss):
        x = 1 / (1 + np.exp(-x))
    xt, xh = tl_tensor(x, True), torch.from_numpy(x.copy()).requires_grad_()
    yt, yh = tl_mod(xt, tl_tensor(t)), th_mod(xh, torch.from_numpy(t.copy()))
    assert_close(yt, yh, what="forward", **FWD_TOL[F64])
    g = np.random.standard_normal(tuple(yh.shape))
    yt.backward(tl_tensor(g)), yh.backward(torch.from_numpy(g))
    assert_close(xt.grad, xh.grad, what="input grad", **GRAD_TOL[F64])
    assert repr(tl_mod) == repr(th_mod)
    assert sorted(tl_mod.state_dict()) == sorted(th_mod.state_dict())
    assert tl_mod.reduction == th_mod.reduction


# -- errors ----------------------------------------------------------------------------------------
def _x(*shape, dtype=np.float64):
    return tl_tensor(np.random.uniform(0.1, 0.9, shape).astype(dtype))


ERRORS = [
    case("ce_int32_target", lambda: tlF.cross_entropy(_x(4, 5), tl_tensor(np.zeros(4, np.int32))),
         RuntimeError, "cross_entropy: expected target dtype to be int64"),
    case("ce_out_of_range", lambda: tlF.cross_entropy(_x(4, 5), tl_tensor(np.array([0, 1, 5, 2]))),
         IndexError, r"cross_entropy: target 5 is out of bounds for 5 classes"),
    case("ce_negative", lambda: tlF.cross_entropy(_x(4, 5), tl_tensor(np.array([0, -1, 2, 2]))),
         IndexError, "target -1 is out of bounds"),
    case("ce_batch_mismatch", lambda: tlF.cross_entropy(_x(4, 5), tl_tensor(np.array([0, 1, 2]))),
         ValueError, r"cross_entropy: target int64\[3\].*input float64\[4, 5\]"),
    case("ce_spatial_mismatch", lambda: tlF.cross_entropy(_x(2, 3, 4),
                                                          tl_tensor(np.zeros((2, 3), np.int64))),
         ValueError, r"expected target shape \[2, 4\]"),
    case("ce_weight_shape", lambda: tlF.cross_entropy(_x(4, 5), tl_tensor(np.zeros(4, np.int64)),
                                                      weight=_x(3)),
         RuntimeError, "for all 5 classes"),
    case("ce_weight_dtype", lambda: tlF.cross_entropy(_x(4, 5), tl_tensor(np.zeros(4, np.int64)),
                                                      weight=_x(5, dtype=np.float32)),
         TypeError, "weight is float32"),
    case("ce_prob_shape", lambda: tlF.cross_entropy(_x(4, 5), _x(4, 4)), RuntimeError,
         r"must have the input's shape"),
    case("ce_prob_ignore_index", lambda: tlF.cross_entropy(_x(4, 5), _x(4, 5), ignore_index=1),
         RuntimeError, "ignore_index is not supported"),
    case("ce_smoothing_range", lambda: tlF.cross_entropy(_x(4, 5), tl_tensor(np.zeros(4, np.int64)),
                                                         label_smoothing=1.5),
         RuntimeError, "label_smoothing must be between"),
    case("ce_int_input", lambda: tlF.cross_entropy(tl_tensor(np.zeros((4, 5), np.int64)),
                                                   tl_tensor(np.zeros(4, np.int64))),
         TypeError, "floating point input"),
    case("ce_bad_reduction", lambda: tlF.cross_entropy(_x(4, 5), tl_tensor(np.zeros(4, np.int64)),
                                                       reduction="avg"),
         ValueError, "'avg' is not a valid value for reduction"),
    case("nll_float_target", lambda: tlF.nll_loss(_x(4, 5), _x(4)), RuntimeError,
         "nll_loss: expected target dtype to be int64"),
    case("nll_out_of_range", lambda: tlF.nll_loss(_x(4, 5), tl_tensor(np.array([0, 9, 1, 1]))),
         IndexError, "nll_loss: target 9"),
    case("bce_range", lambda: tlF.binary_cross_entropy(tl_tensor(np.array([0.5, 1.5])), _x(2)),
         RuntimeError, "binary_cross_entropy: all elements of input should be between 0 and 1"),
    case("bce_shape", lambda: tlF.binary_cross_entropy(_x(3), _x(4)), ValueError,
         r"target size \[4\] must be the same as input size \[3\]"),
    case("bce_logits_shape", lambda: tlF.binary_cross_entropy_with_logits(_x(3), _x(3, 1)),
         ValueError, "binary_cross_entropy_with_logits: target size"),
    case("bce_logits_pos_weight", lambda: tlF.binary_cross_entropy_with_logits(
        _x(2, 3), _x(2, 3), pos_weight=_x(2)), ValueError, "pos_weight"),
    case("mse_weight_shape", lambda: tlF.mse_loss(_x(2, 3), _x(2, 3), weight=_x(3)), ValueError,
         "weights and input must have the same size"),
    case("mse_not_tensor", lambda: tlF.mse_loss(_x(2, 3), np.zeros((2, 3))), TypeError,
         "target must be a Tensor"),
]


@pytest.mark.parametrize("call, exc, match, opts", ERRORS)
def test_loss_errors(backend, call, exc, match, opts):
    with pytest.raises(exc, match=match):
        call()


@pytest.mark.parametrize("be", ["numpy", "numba"])
def test_mse_loss_is_one_node_with_torchs_exact_gradient(be):
    """F.mse_loss records one MseLossBackward0 node whose gradients (input and target, random
    upstream gradient) equal PyTorch's bit for bit ((input - target) * 2/N * grad), and it is
    differentiable again (gradgradcheck)."""
    rng = np.random.default_rng(5)
    with tl.use_backend(be):
        for shape, red, dt in (((64, 10), "mean", np.float32), ((7,), "sum", np.float32),
                               ((3, 5), "mean", np.float64), ((), "mean", np.float32)):
            a, b = rng.standard_normal(shape).astype(dt), rng.standard_normal(shape).astype(dt)
            g = rng.standard_normal(()).astype(dt)
            x, y = tl.tensor(a, requires_grad=True), tl.tensor(b, requires_grad=True)
            tx, ty = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
            loss, tloss = tlF.mse_loss(x, y, reduction=red), torch.nn.functional.mse_loss(
                tx, ty, reduction=red)
            assert loss.grad_fn.name() == tloss.grad_fn.name() == "MseLossBackward0"
            loss.backward(tl.tensor(g))
            tloss.backward(torch.tensor(g))
            np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())
            np.testing.assert_array_equal(y.grad.numpy(), ty.grad.numpy())
        x = tl.tensor(rng.standard_normal((3, 4)), requires_grad=True)
        t = tl.tensor(rng.standard_normal((3, 4)), requires_grad=True)
        assert tl.autograd.gradgradcheck(lambda u, v: tlF.mse_loss(u, v), (x, t))
