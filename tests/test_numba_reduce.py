"""The numba backend's row-wise kernels (layer_norm's normalize) against the NumPy reference, and
``pow`` with PyTorch's special scalar exponents on every backend against PyTorch."""
import warnings

import numpy as np
import pytest
import torch

import tensorlite as tl
from tensorlite import backends

SPECIAL = [2, 3, 0.5, -0.5, -1, -2, 2.0, 3.0, -1.0, -2.0, 0, 1, 2.5]
VALUES = [-0.0, 0.0, -1.5, 2.0, float("inf"), float("-inf"), float("nan"), 1e-30, 1e30, -3.0,
          0.1, 7.3, 1e-20, -1e20]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("exponent", SPECIAL)
def test_pow_special_exponents_match_torch(backend, dtype, exponent):
    """x ** e for the exponents PyTorch computes as products, sqrt and reciprocals: the same
    values bit for bit (x*x*x, not pow's rounding; rsqrt's -inf for -0.0), incl. zeros, infs,
    NaN; 0-d tensors too."""
    x = torch.tensor(VALUES, dtype=getattr(torch, dtype))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for t in (x, x[3]):
            want = torch.pow(t, exponent).numpy()
            got = tl.pow(tl.tensor(t.numpy()), exponent)
            assert got.dtype == getattr(tl, dtype) and tuple(got.shape) == tuple(t.shape)
            got = got.numpy()
            if exponent == 0.5:  # (PyTorch's own sqrt may differ from NumPy's by an ulp)
                np.testing.assert_allclose(got, want, rtol=2e-7 if dtype == "float32" else 3e-16)
            else:
                np.testing.assert_array_equal(got, want)
                np.testing.assert_array_equal(np.signbit(got[~np.isnan(got)]),
                                              np.signbit(want[~np.isnan(want)]))


def test_pow_special_exponent_gradient(backend):
    x = tl.tensor([0.5, 2.0, 3.0], dtype=tl.float64, requires_grad=True)
    for e in (3, -2, -0.5):
        assert tl.autograd.gradcheck(lambda t: t ** e, (x,))
