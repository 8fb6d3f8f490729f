"""Edge cases of the losses and of pad that a differential fuzz against torch found, on every
backend: ignored targets next to NaN/inf inputs, 'mean' over a total weight of 0, inf
differences in smooth_l1_loss, the target gradient of binary_cross_entropy_with_logits at
-inf, binary_cross_entropy's range checks and pad's dtype / cropping checks.

Each case runs the same call through tensorlite and torch and compares the forward value and
every gradient exactly where they are non-finite (NaN where torch has NaN, inf where inf).
"""
import math
import warnings

import numpy as np
import pytest
import torch

import tensorlite as tl
from helpers import assert_close, functional, tl_tensor, to_np

nan, inf = math.nan, math.inf
TOL = dict(rtol=1e-5, atol=1e-6)


def _tensor(lib, value, requires_grad=False):
    value = np.asarray(value)
    if lib is tl:
        return tl_tensor(value, requires_grad)
    return torch.tensor(value, requires_grad=requires_grad)


def _run(lib, name, args, grads, kwargs):
    """Call lib.nn.functional.<name>(*args, **kwargs), arrays as tensors; returns (loss,
    leaves)."""
    leaves = [_tensor(lib, v, g) if isinstance(v, np.ndarray) else v
              for v, g in zip(args, grads)]
    kw = {k: _tensor(lib, v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        out = getattr(functional(lib), name)(*leaves, **kw)
        if any(grads):
            up = np.linspace(0.5, 1.5, max(out.numel(), 1))[:out.numel()].reshape(out.shape)
            out.backward(_tensor(lib, up.astype(np.asarray(args[0]).dtype)))
    return out, leaves


def check(name, *args, grads=None, **kwargs):
    grads = grads or [True] + [False] * (len(args) - 1)
    th_out, th_leaves = _run(torch, name, args, grads, kwargs)
    tl_out, tl_leaves = _run(tl, name, args, grads, kwargs)
    assert_close(to_np(tl_out), th_out.detach().numpy(), what=f"{name} forward", **TOL)
    for i, (a, e) in enumerate(zip(tl_leaves, th_leaves)):
        if grads[i]:
            assert_close(to_np(a.grad), e.grad.numpy(), what=f"{name} grad {i}", **TOL)


def f32(values):
    return np.asarray(values, dtype=np.float32)


def i64(values):
    return np.asarray(values, dtype=np.int64)


# -- nll_loss / cross_entropy: ignored rows are masked, 'mean' divides by the total weight -------
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("name", ["nll_loss", "cross_entropy"])
def test_all_targets_ignored(backend, name, reduction):
    check(name, f32([[.3, .7]]), i64([0]), ignore_index=0, reduction=reduction)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("name", ["nll_loss", "cross_entropy"])
@pytest.mark.parametrize("row", [[nan, 1.], [inf, 0.], [-inf, 2.]])
def test_a_nonfinite_ignored_row_gives_zero_loss(backend, name, reduction, row):
    check(name, f32([row, [.5, 2.]]), i64([0, 1]), ignore_index=0, reduction=reduction)


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_cross_entropy_nonfinite_ignored_row_with_smoothing(backend, reduction, smoothing):
    check("cross_entropy", f32([[inf]]), i64([0]), ignore_index=0, reduction=reduction,
          label_smoothing=smoothing)
    check("cross_entropy", f32([[nan, 0.], [1., 2.]]), i64([0, 1]), ignore_index=0,
          reduction=reduction, label_smoothing=smoothing)


LOSS_SMOOTHING = [("nll_loss", 0.0), ("cross_entropy", 0.0), ("cross_entropy", 0.2)]


@pytest.mark.parametrize("name,smoothing", LOSS_SMOOTHING)
@pytest.mark.parametrize("target,ignore_index", [([0, 0], -100), ([0, 1], 1)])
def test_mean_over_zero_total_weight(backend, name, smoothing, target, ignore_index):
    kw = dict(label_smoothing=smoothing) if name == "cross_entropy" else {}
    check(name, f32([[1., 0.], [2., 3.]]), i64(target), weight=f32([0., 1.]),
          ignore_index=ignore_index, **kw)


@pytest.mark.parametrize("name,smoothing", LOSS_SMOOTHING)
def test_weights_summing_to_zero(backend, name, smoothing):
    kw = dict(label_smoothing=smoothing) if name == "cross_entropy" else {}
    check(name, f32([[1., 0.], [2., 3.]]), i64([0, 1]), weight=f32([1., -1.]), **kw)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_cross_entropy_weighted_smoothing_with_ignored_rows(backend, reduction):
    x = np.random.default_rng(0).standard_normal((5, 3, 2))
    check("cross_entropy", x, i64([[0, 2], [1, 1], [2, 0], [1, 2], [0, 0]]),
          weight=np.asarray([.5, 2., 1.]), ignore_index=1, label_smoothing=0.3,
          reduction=reduction)


# -- smooth_l1_loss: sign gradient where |d| >= beta ---------------------------------------------
@pytest.mark.parametrize("beta", [0.5, 1.0])
def test_smooth_l1_loss_infinite_difference(backend, beta):
    check("smooth_l1_loss", f32([inf, -inf, nan, .2, .5, -3., 1.]),
          f32([1., 1., 1., 0., 0., 0., 0.]), beta=beta, reduction="none")
    check("smooth_l1_loss", f32([inf]), f32([1.]), beta=beta)


# -- binary cross entropies ------------------------------------------------------------------------
@pytest.mark.parametrize("pos_weight", [None, [1.], [2.], [0.5]])
def test_bce_with_logits_target_gradient_at_infinite_logits(backend, pos_weight):
    kw = {} if pos_weight is None else dict(pos_weight=f32(pos_weight))
    check("binary_cross_entropy_with_logits", f32([-inf, inf, .3, -2.]),
          f32([.5, .2, 1., 0.]), grads=[True, True], reduction="none", **kw)


@pytest.mark.parametrize("x,t,which", [([.5], [2.], "target"), ([1.5], [2.], "input"),
                                       ([nan], [.2], "input"), ([.5], [nan], "target"),
                                       ([0.], [inf], "target"), ([-.1], [.5], "input")])
def test_binary_cross_entropy_range_checks(backend, x, t, which):
    with pytest.raises(RuntimeError, match="between 0 and 1"):
        torch.nn.functional.binary_cross_entropy(torch.tensor(x), torch.tensor(t))
    with pytest.raises(RuntimeError, match=f"binary_cross_entropy: all elements of {which} "
                                           "should be between 0 and 1"):
        tl.nn.functional.binary_cross_entropy(_tensor(tl, x), _tensor(tl, t))


def test_binary_cross_entropy_bounds_are_allowed(backend):
    check("binary_cross_entropy", f32([0., 1., .5, .25]), f32([1., 0., .5, 1.]),
          grads=[True, True])


# -- pad -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_pad_bool(backend, mode):
    x = np.array([[True, False, True]])
    try:
        expected = torch.nn.functional.pad(torch.tensor(x), [1, 1], mode=mode)
    except NotImplementedError:
        with pytest.raises(NotImplementedError, match=f"pad: mode '{mode}'.*bool"):
            tl.nn.functional.pad(_tensor(tl, x), [1, 1], mode=mode)
        return
    out = tl.nn.functional.pad(_tensor(tl, x), [1, 1], mode=mode)
    np.testing.assert_array_equal(to_np(out), expected.numpy())


@pytest.mark.parametrize("shape,pad", [((2, 0), [-1, 0]), ((2, 3), [-4, 2]), ((2, 3), [1, -5]),
                                       ((2, 3), [-2, -2]), ((2, 3, 1), [0, 0, -4, 0])])
def test_pad_cropping_below_zero_raises(backend, shape, pad):
    with pytest.raises(RuntimeError):
        torch.nn.functional.pad(torch.zeros(shape), pad)
    with pytest.raises(RuntimeError, match="pad: negative padding"):
        tl.nn.functional.pad(_tensor(tl, np.zeros(shape, np.float32)), pad)


@pytest.mark.parametrize("shape,pad", [((2, 0), [0, 0]), ((2, 0), [1, 0]), ((2, 3), [-3, 0]),
                                       ((2, 3), [-2, -1]), ((2, 3), [-1, 2])])
def test_pad_cropping_to_zero_or_more(backend, shape, pad):
    x = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    check("pad", x, pad)


@pytest.mark.parametrize("dtype", ["int64", "int32", "bool", "float16", "float32", "float64"])
@pytest.mark.parametrize("value", [inf, nan, 1.5, -2.7, 2.0 ** 40, 1e300, 3])
def test_pad_fill_value_conversion(backend, dtype, value):
    x = np.zeros((2, 1), dtype=dtype)
    try:
        expected = torch.nn.functional.pad(torch.tensor(x), [1, 0], value=value)
    except RuntimeError:
        with pytest.raises(RuntimeError, match="pad: value .* without overflow"):
            tl.nn.functional.pad(_tensor(tl, x), [1, 0], value=value)
        return
    out = tl.nn.functional.pad(_tensor(tl, x), [1, 0], value=value)
    assert_close(out, expected, what="pad", rtol=0, atol=0)


@pytest.mark.parametrize("shape,pad", [((2, 3), [0, 0]), ((0, 0), [0, 0]), ((2, 3), [-1, 0]),
                                       ((2, 3), [-1, 1]), ((2, 0), [0, 0, 1, 0])])
def test_pad_fill_value_checked_only_when_padding_adds(backend, shape, pad):
    x = np.zeros(shape, dtype=np.int64)
    try:
        expected = torch.nn.functional.pad(torch.tensor(x), pad, value=-inf)
    except RuntimeError:
        with pytest.raises(RuntimeError, match="pad: value .* without overflow"):
            tl.nn.functional.pad(_tensor(tl, x), pad, value=-inf)
        return
    assert_close(tl.nn.functional.pad(_tensor(tl, x), pad, value=-inf), expected, what="pad",
                 rtol=0, atol=0)
