"""The numba backend's batch_norm kernels (normalize / normalize_backward over the axes
(0, 2, ...) of an (N, C, *) array, per channel) against the NumPy reference, and F.batch_norm's
forward, gradients and running statistics against torch on every backend."""
import warnings

import numpy as np
import pytest
import torch

import tensorlite as tl
from tensorlite import backends


def _reference():
    return backends.get("numpy")


def _axes(shape):
    return (0,) + tuple(range(2, len(shape)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(4, 3, 5, 6), (2, 5, 7), (9, 4), (1, 3, 1, 1), (3, 1, 17)])
@pytest.mark.parametrize("params", ["none", "weight", "both"])
def test_batch_norm_kernels_match_reference(nb, dtype, shape, params):
    """(y, xhat, mean, var) and (gx, gw, gb) within float rounding of the reference's (the
    kernels sum each plane in the dtype and the planes in float64)."""
    rng = np.random.default_rng(0)
    x = (3 * rng.standard_normal(shape) + 1).astype(dtype)
    bs = (shape[1],) + (1,) * (len(shape) - 2)
    w = rng.standard_normal(bs).astype(dtype) if params != "none" else None
    b = rng.standard_normal(bs).astype(dtype) if params == "both" else None
    axes = _axes(shape)
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    got, want = nb.normalize(x, axes, 1e-5, w, b), _reference().normalize(x, axes, 1e-5, w, b)
    for u, v in zip(got, want):
        assert u.shape == v.shape and u.dtype == v.dtype
        np.testing.assert_allclose(u, v, **tol)
    g = rng.standard_normal(shape).astype(dtype)
    rstd = (1 / np.sqrt(want[3] + 1e-5)).astype(dtype)
    got = nb.normalize_backward(g, want[1], rstd, w, axes, axes)
    want = _reference().normalize_backward(g, want[1], rstd, w, axes, axes)
    for u, v in zip(got, want):
        assert u.shape == v.shape and u.dtype == v.dtype
        np.testing.assert_allclose(u, v, **{k: 10 * t for k, t in tol.items()})


def test_batch_norm_kernels_nan_inf_and_fallbacks(nb):
    """NaN/inf poison their channel only, as the reference; other axes, layouts and dtypes:
    the reference's results bit for bit."""
    warnings.simplefilter("ignore")  # (pytest restores the filters after the test)
    x = np.random.default_rng(1).standard_normal((4, 3, 5)).astype(np.float32)
    x[1, 0, 2], x[2, 1, 0] = np.nan, np.inf
    got, want = nb.normalize(x, (0, 2), 1e-5), _reference().normalize(x, (0, 2), 1e-5)
    for u, v in zip(got, want):
        np.testing.assert_array_equal(np.isnan(u), np.isnan(v))
    assert np.isfinite(got[0][:, 2]).all()
    x = x[:, :, ::2].copy()
    for args in [(x[:, :, ::2], (0, 2), 1e-5), (x.astype(np.float16), (0, 2), 1e-5),
                 (x, (0, 2), 1e-5, np.ones((3, 1), np.float64)), (x, (0,), 1e-5)]:
        for u, v in zip(nb.normalize(*args), _reference().normalize(*args)):
            np.testing.assert_array_equal(u, v)


@pytest.mark.parametrize("affine", [False, True])
def test_batch_norm_training_matches_torch(backend, affine):
    """F.batch_norm training: output, the three gradients and the running statistics against
    torch, float64 and float32; the create_graph path stays differentiable."""
    rng = np.random.default_rng(2)
    for dtype, tol in ((np.float64, 1e-10), (np.float32, 1e-4)):
        x, g = (rng.standard_normal((4, 3, 5, 2)).astype(dtype) for _ in range(2))
        w, b = rng.standard_normal(3).astype(dtype), rng.standard_normal(3).astype(dtype)
        outs = []
        for lib in (tl, torch):
            xs = [lib.tensor(a, requires_grad=True) for a in (x, w, b)]
            rm, rv = lib.zeros(3, dtype=xs[0].dtype), lib.ones(3, dtype=xs[0].dtype)
            y = lib.nn.functional.batch_norm(xs[0], rm, rv, *(xs[1:] if affine else ()),
                                             training=True)
            y.backward(lib.tensor(g))
            outs.append([y.detach().numpy(), rm.numpy(), rv.numpy()]
                        + [t.grad.numpy() for t in xs[:3 if affine else 1]])
        for u, v in zip(*outs):
            np.testing.assert_allclose(u, v, rtol=tol, atol=tol)
    x = tl.tensor(rng.standard_normal((3, 2, 4)), requires_grad=True)
    w = tl.tensor(rng.standard_normal(2), requires_grad=True)
    assert tl.autograd.gradgradcheck(
        lambda x, w: tl.nn.functional.batch_norm(x, None, None, w, training=True), (x, w))


@pytest.mark.parametrize("affine", ["none", "weight", "both"])
def test_group_norm_matches_torch(backend, affine):
    """F.group_norm (one tape node: the backend's normalize over each (sample, group) row):
    output and gradients against torch, float64 and float32, a strided input; create_graph
    keeps it differentiable (gradgradcheck)."""
    rng = np.random.default_rng(3)
    for shape, groups in (((4, 6, 5, 3), 3), ((2, 4, 7), 2), ((2, 8, 4), 1)):
        for dtype, tol in ((np.float64, 1e-10), (np.float32, 1e-4)):
            x, g = ((3 * rng.standard_normal(shape) + 1).astype(dtype) for _ in range(2))
            w, b = (rng.standard_normal(shape[1]).astype(dtype) for _ in range(2))
            params = {"none": (), "weight": (w,), "both": (w, b)}[affine]
            outs = []
            for lib in (tl, torch):
                xs = [lib.tensor(a, requires_grad=True) for a in (x,) + params]
                y = lib.nn.functional.group_norm(xs[0], groups, *xs[1:])
                y.backward(lib.tensor(g))
                outs.append([y.detach().numpy()] + [t.grad.numpy() for t in xs])
            for u, v in zip(*outs):
                np.testing.assert_allclose(u, v, rtol=tol, atol=tol)
    x = rng.standard_normal((3, 4, 6))
    got, want = (lib.nn.functional.group_norm(lib.tensor(x)[:, :, ::2], 2).numpy()
                 for lib in (tl, torch))
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)
    ts = [tl.tensor(a, requires_grad=True)
          for a in (rng.standard_normal((2, 4, 3)), rng.standard_normal(4), rng.standard_normal(4))]
    assert tl.autograd.gradgradcheck(
        lambda x, w, b: tl.nn.functional.group_norm(x, 2, w, b), ts)
