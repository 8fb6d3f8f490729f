"""The numba backend's elementwise ops: activations, their gradients, bias + activation and the
fused linear layer's two halves, run by kernels generated from their scalar descriptions
(scalar_ops.py, through numba_codegen.py).  A mixin of NumbaBackend (it uses ``self._new``,
``self._run`` and ``PARALLEL_MIN``)."""
import functools

import numpy as np

from . import numba_reduce as R
from .numba_codegen import Elementwise
from .numba_common import _FLOATS, _fits, _floats, _threads
from .scalar_ops import ACTIVATIONS, kernel_program

_ACTS = (None,) + ACTIVATIONS
_F32 = np.dtype(np.float32)
_KEEPS_PRE = ("gelu", "gelu_tanh")  # a fused linear's backward needs their pre-activation


@functools.cache
def _kernel(kind, name, colsum=False):
    """The generated kernel of ``kind`` for the op or activation ``name``
    (scalar_ops.kernel_program), with the column sums of its result when ``colsum``."""
    return Elementwise(kernel_program(kind, name), colsum)


_GENERATED: dict = {}  # a program's source -> its Elementwise (compiled once, whatever plan fuses it)


class NumbaElementwise:
    """The generated elementwise kernels (a mixin before the NumPy reference)."""

    # -- elementwise ops: kernels generated from their scalar descriptions (scalar_ops) ---------
    def _ew(self, kernel, *operands, out=None, rows=None):
        """``kernel`` (an Elementwise) over ``operands`` on this backend: on the pool for a
        large result, outputs from the workspace.  The first operand has the result's size
        (every caller here: the activation's input, z of z + b, the gradient g)."""
        threads = _threads() if operands[0].size >= self.PARALLEL_MIN else 1
        return kernel(*operands, out=out, threads=threads, new=self._new, rows=rows)

    def elementwise_kernel(self, program):
        """The generated kernel of ``program`` (tensorlite.compile's fused chains): on the pool
        for a large result, results made from the workspace."""
        kernel = _GENERATED.get(program.source())
        if kernel is None:
            kernel = _GENERATED[program.source()] = Elementwise(program)

        def run(*operands, out, shape, dtype):
            out = [self._new(shape, dtype) if o is None else o for o in out]
            threads = _threads() if out and out[0].size >= self.PARALLEL_MIN else 1
            result = kernel(*operands, out=out, threads=threads)
            if result is None:
                raise ValueError(f"fused kernel: no grid for operands "
                                 f"{[a.shape for a in operands]}")
            return result
        return run

    def _unary(self, name, x, *params):
        (y,) = self._ew(_kernel("op", name), x, *params)
        return y

    # Float32 exp, log and tanh are the generated kernels (numba_math's polynomials) from
    # GENERATED_MIN elements: 65536 float32 on one core, a plain Numba loop exp32 58 us against
    # np.exp 98, tanh32 109 against np.tanh 169 (and on the pool for a large array, where
    # NumPy's stay on one thread); a fused linear or bias + tanh then is one pass.  Float64
    # keeps NumPy's (the generated loop calls libm: no faster).
    # Below GENERATED_MIN elements a generated kernel's call (plan look-up, dispatch: 2-5 us)
    # costs more than NumPy's few passes, so small arrays take the reference, fused or not;
    # erf and GELU always take the kernel (their reference is a float64 polynomial: 70x slower).
    # Where the reference is several passes with an exp (sigmoid, softplus, bias + sigmoid)
    # the generated kernel wins at every size measured (load ~11-12: sigmoid of 16 float32 13
    # vs 23 us, 64: 17 vs 24 us, 256: 5.3 vs 8.4 us, 2048: 7.3 vs 28 us; bias + sigmoid 1024:
    # 8.2 vs 28 us), so those take it from GENERATED_MIN_EXP elements; one-pass references
    # (relu, tanh, the grads) cross over near 4096-8192 (relu 4096: 5.5 vs 3.8 us, 8192: 5.8
    # vs 6.9 us).
    GENERATED_MIN = 1 << 13
    GENERATED_MIN_EXP = 1 << 6

    def _gen(self, *arrays):
        """Whether the generated kernels take these arrays (floats, large enough)."""
        return arrays[0].size >= self.GENERATED_MIN and _floats(*arrays)

    def _gen_exp(self, *arrays):
        """As _gen, from GENERATED_MIN_EXP elements (a reference of several passes with exp)."""
        return arrays[0].size >= self.GENERATED_MIN_EXP and _floats(*arrays)

    def sigmoid(self, x):
        return self._unary("sigmoid", x) if self._gen_exp(x) else super().sigmoid(x)

    def tanh(self, x, /):
        if type(x) is np.ndarray and x.dtype == _F32 and x.size >= self.GENERATED_MIN:
            return self._unary("tanh", x)
        return np.tanh(x)  # (the reference's body: one call less on a hot path)

    def exp(self, x, /):
        if type(x) is np.ndarray and x.dtype == _F32 and x.size >= self.GENERATED_MIN:
            return self._unary("exp", x)
        return np.exp(x)

    def log(self, x, /):
        if type(x) is np.ndarray and x.dtype == _F32 and x.size >= self.GENERATED_MIN:
            return self._unary("log", x)
        return np.log(x)

    def erf(self, x):
        return self._unary("erf", x) if _floats(x) else super().erf(x)

    def relu(self, x):
        return self._unary("relu", x) if self._gen(x) else super().relu(x)

    def gelu(self, x, approximate):
        if approximate not in ("none", "tanh") or not _floats(x):
            return super().gelu(x, approximate)
        return self._unary("gelu_tanh" if approximate == "tanh" else "gelu", x)

    def softplus(self, x, beta, threshold):
        if not self._gen_exp(x):
            return super().softplus(x, beta, threshold)
        return self._unary("softplus", x, float(beta), float(threshold))

    def leaky_relu(self, x, negative_slope):
        if not self._gen(x):
            return super().leaky_relu(x, negative_slope)
        return self._unary("leaky_relu", x, float(negative_slope))

    # -- fused linear: bias + activation, and its backward ------------------------------------
    def bias_act(self, z, b=None, activation=None):
        if (activation not in _ACTS
                or not (self._gen_exp(z) if activation == "sigmoid" else self._gen(z))
                or (activation == "tanh" and z.dtype != _F32)
                or (b is None and activation is None)
                or (b is not None and (b.shape != z.shape[-1:] or not _floats(z, b)))):
            return super().bias_act(z, b, activation)
        if b is None:
            return self._unary(activation, z)
        (y,) = self._ew(_kernel("bias_act", activation), z, b)
        return y

    def linear(self, x, w, b=None, activation=None, keep_pre=False):
        if (activation not in _ACTS or type(x) is not np.ndarray or type(w) is not np.ndarray
                or x.ndim == 0 or x.dtype not in _FLOATS or w.dtype != x.dtype or x.size == 0
                or w.size == 0 or (b is not None and (b.shape != w.shape[:1] or not _floats(b)
                                                      or b.dtype != x.dtype))
                or x.size // x.shape[-1] * w.shape[0] < self.GENERATED_MIN):
            return super().linear(x, w, b, activation, keep_pre)
        x2 = x.reshape(-1, x.shape[-1]) if x.ndim != 2 else x
        z = np.matmul(x2, w.T, out=self._new((x2.shape[0], w.shape[0]), x.dtype))  # BLAS
        y = z
        if activation in _KEEPS_PRE:  # GELU's backward needs z + b: both in one pass
            y = self._new(z.shape, z.dtype)
            if b is None:
                self._ew(_kernel("op", activation), z, out=(y,))
            else:
                self._ew(_kernel("bias_act_keep", activation), z, b, out=(z, y))
        elif activation == "tanh" and x.dtype != _F32:  # (float64: NumPy's tanh, see above)
            if b is not None:
                self._ew(_kernel("bias_act", None), z, b, out=(z,))
            np.tanh(z, out=z)
        elif b is not None:
            self._ew(_kernel("bias_act", activation), z, b, out=(z,))  # in place
        elif activation is not None:
            self._ew(_kernel("op", activation), z, out=(z,))
        if x.ndim != 2:
            y, z = (a.reshape(*x.shape[:-1], w.shape[0]) for a in (y, z))
        return (y, z) if keep_pre else y

    def linear_act_grad(self, g, s, activation, bias=True):
        if (activation not in _ACTS or g.ndim != 2 or g.shape != s.shape or not _fits(g, s)
                or g.size == 0 or (activation is not None and g.size < self.GENERATED_MIN)):
            return super().linear_act_grad(g, s, activation, bias)
        if not bias or g.shape[1] == 1:  # one column: NumPy's (pairwise) sum, as unfused
            gz = g if activation is None else self._act_grad(g, s, activation)
            return gz, (self.sum(gz, (0,)) if bias else None)
        # the bias gradient: columns summed top to bottom (NumPy's order for sum(0)), in blocks
        # of whole columns per thread
        if activation is None:
            colsum = np.empty(g.shape[1], g.dtype)
            self._run(g.size, R.colsum_par, R.colsum_body, (g, colsum), g.shape[1])
            return g, colsum
        return self._ew(_kernel("grad", activation, colsum=True), g, s, rows=g.shape[0])

    def _act_grad(self, g, s, activation):
        (gz,) = self._ew(_kernel("grad", activation), g, s)
        return gz

    # -- activation gradients (the backward of the unfused activations) -----------------------
    def relu_grad(self, g, y):
        if g.shape != y.shape or not self._gen(g, y):
            return super().relu_grad(g, y)
        return self._act_grad(g, y, "relu")

    def tanh_grad(self, g, y):
        if g.shape != y.shape or not self._gen(g, y):
            return super().tanh_grad(g, y)
        return self._act_grad(g, y, "tanh")

    def sigmoid_grad(self, g, y):
        if g.shape != y.shape or not self._gen(g, y):
            return super().sigmoid_grad(g, y)
        return self._act_grad(g, y, "sigmoid")

    def gelu_grad(self, g, x, approximate):
        if g.shape != x.shape or not _floats(g, x) or approximate not in ("none", "tanh"):
            return super().gelu_grad(g, x, approximate)
        return self._act_grad(g, x, "gelu_tanh" if approximate == "tanh" else "gelu")
