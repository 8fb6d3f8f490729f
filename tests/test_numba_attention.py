"""The numba backend's fused attention (attention / attention_backward) against the NumPy
reference, and scaled_dot_product_attention through it against PyTorch."""
import numpy as np
import pytest
import torch

import tensorlite as tl
from tensorlite import backends


@pytest.fixture
def nb(nb, monkeypatch):
    """conftest's nb (one thread or the pool) with the size threshold off (so small arrays
    reach the kernels)."""
    monkeypatch.setattr(nb, "ATTENTION_MIN", 0)
    return nb


def _qkv(rng, dtype, N, H, L, S, E, Ev, strided):
    if strided:  # nanoGPT's: q, k, v head views of one (N, T, 3, H, E) projection
        base = rng.standard_normal((N, max(L, S), 3, H, max(E, Ev))).astype(dtype)
        q = base[:, :L, 0, :, :E].transpose(0, 2, 1, 3)
        k = base[:, :S, 1, :, :E].transpose(0, 2, 1, 3)
        v = base[:, :S, 2, :, :Ev].transpose(0, 2, 1, 3)
        return q, k, v
    return (rng.standard_normal(s).astype(dtype) for s in ((N, H, L, E), (N, H, S, E),
                                                            (N, H, S, Ev)))


def _close(a, b, dtype):
    tol = 2e-6 if dtype == "float32" else 1e-14
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


CASES = [(2, 3, 9, 9, 4, 4, True), (1, 2, 5, 8, 3, 6, False), (1, 1, 7, 3, 5, 2, True),
         (1, 1, 1, 1, 1, 1, False)]


def _kernels_only(monkeypatch):
    """From here on the reference's attention primitives raise: the numba ones must not fall
    back to them."""
    from tensorlite.backends.nn_kernels import NNKernels

    def refuse(*args, **kwargs):
        raise AssertionError("the numba backend fell back to the reference")
    monkeypatch.setattr(NNKernels, "attention", refuse)
    monkeypatch.setattr(NNKernels, "attention_backward", refuse)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("causal", [True, False])
def test_attention_equals_reference(nb, dtype, causal, monkeypatch):
    """Forward (output and probabilities) and backward equal the reference's, for C-contiguous
    and strided head views, L != S (top-left causal), size-1 dims."""
    rng = np.random.default_rng(0)
    ref = backends.get("numpy")
    cases = []
    for N, H, L, S, E, Ev, strided in CASES:
        q, k, v = _qkv(rng, dtype, N, H, L, S, E, Ev, strided)
        want, wp = ref.attention(q, k, v, 0.37, causal)
        g = rng.standard_normal(want.shape).astype(dtype)
        cases.append(((q, k, v, g), (want, wp), ref.attention_backward(g, q, k, v, wp, 0.37,
                                                                      causal)))
    _kernels_only(monkeypatch)
    for (q, k, v, g), (want, wp), wgrads in cases:
        out, p = nb.attention(q, k, v, 0.37, causal)
        _close(out, want, dtype)
        _close(p, wp, dtype)
        assert out.dtype == want.dtype and out.shape == want.shape
        for a, b in zip(nb.attention_backward(g, q, k, v, p, 0.37, causal), wgrads):
            assert a.shape == b.shape and a.dtype == b.dtype
            _close(a, b, dtype)


def test_attention_lead_dims_and_nonfinite(nb):
    """3-D and 5-D inputs; a NaN or inf in a query or key gives the reference's NaN rows, and
    a causal mask hides those keys."""
    rng = np.random.default_rng(1)
    ref = backends.get("numpy")
    for shape in ((3, 6, 4), (2, 2, 2, 6, 4)):
        q, k, v = (rng.standard_normal(shape) for _ in range(3))
        q[..., 2, 1] = np.nan
        k[..., 4, 0] = np.inf
        for causal in (True, False):
            out, p = nb.attention(q, k, v, 0.5, causal)
            want, wp = ref.attention(q, k, v, 0.5, causal)
            np.testing.assert_allclose(out, want, rtol=1e-14, atol=1e-14)
            # masked probabilities are 0 even in a NaN row (the keys are skipped, as torch's
            # fused kernel does), where the reference's exp(-inf - nan) is NaN
            keep = np.tri(6, dtype=bool) if causal else np.ones((6, 6), bool)
            np.testing.assert_allclose(p[..., keep], wp[..., keep], rtol=1e-14, atol=1e-14)
            assert not np.any(p[..., ~keep])


def test_sdpa_causal_through_numba_matches_torch(nb, monkeypatch):
    """nanoGPT's call (head views of one projection, is_causal) on the numba backend against
    PyTorch, forward and gradients, float32."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 10, 3 * 8)).astype("float32")
    up = rng.standard_normal((2, 10, 8)).astype("float32")

    def run(lib, xt):
        q, k, v = xt.split(8, dim=2)
        q, k, v = (t.view(2, 10, 2, 4).transpose(1, 2) for t in (q, k, v))
        y = lib.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        return y.transpose(1, 2).contiguous().view(2, 10, 8)
    tx = torch.from_numpy(x).requires_grad_()
    ty = run(torch, tx)
    ty.backward(torch.from_numpy(up))
    _kernels_only(monkeypatch)
    with tl.use_backend("numba"):
        lx = tl.tensor(x, requires_grad=True)
        ly = run(tl, lx)
        ly.backward(tl.tensor(up))
    np.testing.assert_allclose(ly.detach().numpy(), ty.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(lx.grad.numpy(), tx.grad.numpy(), rtol=1e-5, atol=1e-6)
