"""The numba backend's attention (scaled_dot_product_attention without a mask tensor or
dropout), a mixin of NumbaBackend.

Forward: the scores ``(q * scale) @ k^T`` over the whole (batch, head) stack in one np.matmul
call (BLAS per block, any strides: nanoGPT's head views need no copy), then one kernel that
turns each query row into its softmax over the keys it attends (j <= i when causal: the masked
ones are skipped and set to 0, as torch's fused CPU kernel skips them, with no mask array and no
fill pass), then ``p @ v``.  Backward: ``gv = p^T @ g``, ``dp = g @ v^T``, one kernel for
``ds = p * (dp - sum(p * dp))`` (0 where masked), ``gq = ds @ k * scale``,
``gk = ds^T @ (q * scale)``.  The row sums are reassociated (vectorized) in the dtype; exp is
numba_math's (the vectorized float32 polynomial; libm for float64).

Measured (16 x 4 heads, T = 64, head 32, float32, causal, one thread, CPU time): a kernel per
(batch, head) block doing the products as Numba loops too (axpy form, vectorized) took 2.3 ms
forward and 2.7 ms backward against the reference's 2.1 and 1.7: BLAS does the 64x64x32
products at ~25 GMAC/s, the loops at ~4; so the products stay BLAS calls.

The outputs (out, gq, gk, gv) are allocated in their input's memory order, so nanoGPT's
``y.transpose(1, 2).contiguous()`` after it is free and its gradients need no copy.
"""
import numpy as np
from numba import njit, prange

from . import numba_math as M
from .numba_common import _FLOATS, _split, rdot, rsum


@njit(cache=True)
def softmax_body(s, causal, r0, r1):
    """Rows [r0, r1) of s (rows, L, S) (the scores of each (batch, head) block): each query
    row in place by its softmax over the keys it attends (j <= i when causal; 0 beyond)."""
    L, S = s.shape[1], s.shape[2]
    for blk in range(r0, r1):
        sb = s[blk]
        for i in range(L):
            jn = min(i + 1, S) if causal else S
            row = sb[i]
            m = row[0]
            for j in range(1, jn):
                x = row[j]
                if x > m or x != x:
                    m = x
            for j in range(jn):
                row[j] = M.exp(row[j] - m)
            total = rsum(row[:jn])
            for j in range(jn):
                row[j] /= total
            for j in range(jn, S):
                row[j] = 0


@njit(cache=True, parallel=True)
def softmax_par(s, causal, threads):
    for t in prange(threads):
        softmax_body(s, causal, _split(s.shape[0], threads, t), _split(s.shape[0], threads, t + 1))


@njit(cache=True)
def softmax_grad_body(dp, p, causal, r0, r1):
    """Rows [r0, r1) of dp (rows, L, S) in place: the scores' gradient p * (dp - sum(p * dp))
    over the keys each query attends (0 beyond: masked keys pass nothing, even a NaN)."""
    L, S = p.shape[1], p.shape[2]
    for blk in range(r0, r1):
        db, pb = dp[blk], p[blk]
        for i in range(L):
            jn = min(i + 1, S) if causal else S
            d, pr = db[i], pb[i]
            dot = rdot(d[:jn], pr[:jn])
            for j in range(jn):
                d[j] = pr[j] * (d[j] - dot)
            for j in range(jn, S):
                d[j] = 0


@njit(cache=True, parallel=True)
def softmax_grad_par(dp, p, causal, threads):
    n = p.shape[0]
    for t in prange(threads):
        softmax_grad_body(dp, p, causal, _split(n, threads, t), _split(n, threads, t + 1))


def _like(backend, x, shape, dtype):
    """A new array of ``shape`` (x's ndim) in x's memory order (the order of its strides), from
    the backend's workspace."""
    order = sorted(range(x.ndim), key=lambda d: -x.strides[d])
    buf = backend._new(tuple(shape[d] for d in order), dtype)
    return buf.transpose(np.argsort(order))


class NumbaAttention:
    """Attention forward and backward: BLAS products over the (batch, head) stack, the masked
    softmax and its gradient as kernels (a mixin before the reference)."""

    ATTENTION_MIN = 1 << 12  # score elements (..., L, S): below this the reference

    def _attention_fits(self, arrays):
        q = arrays[0]
        dt = q.dtype
        if dt not in _FLOATS or q.ndim < 2:
            return False
        for a in arrays:
            if type(a) is not np.ndarray or a.dtype != dt or a.ndim != q.ndim or a.size == 0:
                return False
        lead = q.shape[:-2]
        return all(a.shape[:-2] == lead for a in arrays)

    def attention(self, q, k, v, scale, causal=False):
        if not self._attention_fits((q, k, v)) or q.shape[-1] != k.shape[-1] or \
                k.shape[-2] != v.shape[-2] or \
                q.size // q.shape[-1] * k.shape[-2] < self.ATTENTION_MIN:
            return super().attention(q, k, v, scale, causal)
        L, S = q.shape[-2], k.shape[-2]
        p = self._new(q.shape[:-1] + (S,), q.dtype)
        np.matmul(q * scale, np.swapaxes(k, -1, -2), out=p)
        p3 = p.reshape(-1, L, S)
        self._run(p.size, softmax_par, softmax_body, (p3, bool(causal)), p3.shape[0])
        out = _like(self, q, q.shape[:-1] + v.shape[-1:], q.dtype)
        np.matmul(p, v, out=out)
        return out, p

    def attention_backward(self, g, q, k, v, p, scale, causal=False):
        if not self._attention_fits((g, q, k, v, p)) or not p.flags.c_contiguous or \
                g.shape != q.shape[:-1] + v.shape[-1:] or p.shape != q.shape[:-1] + k.shape[-2:-1] \
                or p.size < self.ATTENTION_MIN:
            return super().attention_backward(g, q, k, v, p, scale, causal)
        L, S = p.shape[-2:]
        gv = np.matmul(np.swapaxes(p, -1, -2), g, out=_like(self, v, v.shape, v.dtype))
        ds = np.matmul(g, np.swapaxes(v, -1, -2), out=self._new(p.shape, p.dtype))
        self._run(p.size, softmax_grad_par, softmax_grad_body,
                  (ds.reshape(-1, L, S), p.reshape(-1, L, S), bool(causal)), p.size // (L * S))
        gq = np.matmul(ds, k, out=_like(self, q, q.shape, q.dtype))
        gq *= scale
        gk = np.matmul(np.swapaxes(ds, -1, -2), q * scale, out=_like(self, k, k.shape, k.dtype))
        return gq, gk, gv
