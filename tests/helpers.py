"""Table-driven checkers: one op, compared against PyTorch autograd (the oracle).

An op under test is written once as ``fn(lib, *args)`` where ``lib`` is either ``tensorlite``
or ``torch`` (the APIs mirror each other), e.g. ``lambda lib, a, b: lib.maximum(a, b)``.

Arguments are *specs*, materialized with the test's seeded generator:
  N(*shape)        standard normal, differentiable
  P(*shape)        uniform in [0.5, 2], differentiable (log, sqrt, pow bases, divisors)
  U(lo, hi, *shape) uniform in [lo, hi], differentiable
  A(values)        literal float values, differentiable (ties, kinks)
  NC(spec)         the same values as a strided (non-contiguous) NumPy view
  F(spec)          the same values in Fortran order (a transposed view)
  Const(values)    a non-differentiable tensor (indices, masks), dtype kept
  anything else    passed through unchanged (python numbers, dims, slices)

``check_op`` compares, in float64: forward values/shape/dtype, input gradients for a random
upstream gradient (never ``.sum()``), then ``tl.autograd.gradcheck``; and in float32: forward
and gradients with float32 tolerances (and float32 result/gradient dtypes).
"""
import numpy as np
import pytest
import torch

import tensorlite as tl

FWD_TOL = {np.dtype(np.float64): dict(rtol=1e-10, atol=1e-12),
           np.dtype(np.float32): dict(rtol=1e-5, atol=1e-5)}
GRAD_TOL = {np.dtype(np.float64): dict(rtol=1e-10, atol=1e-12),
            np.dtype(np.float32): dict(rtol=1e-4, atol=1e-5)}


# ----------------------------------------------------------------------------- specs
class Spec:
    def make(self, rng):
        raise NotImplementedError


class N(Spec):
    def __init__(self, *shape):
        self.shape = shape

    def make(self, rng):
        return np.asarray(rng.standard_normal(self.shape))


class U(Spec):
    def __init__(self, lo, hi, *shape):
        self.lo, self.hi, self.shape = lo, hi, shape

    def make(self, rng):
        return np.asarray(rng.uniform(self.lo, self.hi, self.shape))


class P(U):
    def __init__(self, *shape):
        super().__init__(0.5, 2.0, *shape)


class A(Spec):
    def __init__(self, values):
        self.values = np.array(values, dtype=np.float64)

    def make(self, rng):
        return self.values.copy()


class NC(Spec):
    def __init__(self, spec):
        self.spec = spec

    def make(self, rng):
        return strided(self.spec.make(rng))


class F(Spec):
    def __init__(self, spec):
        self.spec = spec

    def make(self, rng):
        return np.asfortranarray(self.spec.make(rng))


class Const:
    def __init__(self, values, dtype=None):
        self.array = np.array(values, dtype=dtype)


class _Diff:
    def __init__(self, array):
        self.array = array


def strided(a):
    """The values of ``a`` as a view with stride 2 on every axis (not contiguous)."""
    if a.ndim == 0:
        return a
    big = np.zeros(tuple(2 * s for s in a.shape), a.dtype)
    view = big[tuple(slice(None, None, 2) for _ in a.shape)]
    view[...] = a
    return view


def cast_keep_layout(a, dtype):
    """``a`` converted to ``dtype`` with the same kind of memory layout."""
    out = a.astype(dtype)
    if a.flags.c_contiguous:
        return np.ascontiguousarray(out)
    if a.flags.f_contiguous:
        return np.asfortranarray(out)
    return strided(out)


def materialize(args, rng):
    out = []
    for a in args:
        if isinstance(a, Spec):
            out.append(_Diff(a.make(rng)))
        elif isinstance(a, np.ndarray) and a.dtype.kind == "f":
            out.append(_Diff(a))
        else:
            out.append(a)
    return out


# ----------------------------------------------------------------------------- conversion
def device():
    return tl.get_backend().device


def to_np(x):
    if isinstance(x, tl.Tensor):
        return np.asarray(x.detach().cpu().numpy())
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def functional(lib):
    """The functional namespace of ``lib`` (tensorlite or torch)."""
    return lib.nn.functional


def case(id, *args, **opts):
    """A pytest.param of ``args`` and the keyword options ``opts`` as one dict, named ``id``."""
    return pytest.param(*args, opts, id=id)


def tl_tensor(arr, requires_grad=False):
    """A tensorlite tensor on the current backend's device holding ``arr`` (layout kept)."""
    if arr.flags.c_contiguous:
        return tl.tensor(arr, device=device(), requires_grad=requires_grad)
    t = tl.from_numpy(arr).to(device())
    return t.requires_grad_() if requires_grad else t


def _outputs(out):
    if isinstance(out, (tl.Tensor, torch.Tensor)):
        return (out,)
    return tuple(out)


def _is_float(t):
    return np.dtype(t.dtype).kind == "f" if isinstance(t, tl.Tensor) else t.dtype.is_floating_point


def assert_close(actual, expected, rtol, atol, what=""):
    a, e = to_np(actual), to_np(expected)
    assert a.shape == e.shape, f"{what}: shape {a.shape}, torch gives {e.shape}"
    assert a.dtype == e.dtype, f"{what}: dtype {a.dtype}, torch gives {e.dtype}"
    if a.dtype.kind in "fc":
        np.testing.assert_allclose(a, e, rtol=rtol, atol=atol, equal_nan=True, err_msg=what)
    else:
        np.testing.assert_array_equal(a, e, err_msg=what)


def _build(values, dtype, requires_grad):
    """Parallel argument lists for tensorlite and torch, plus the differentiable leaves."""
    tl_args, th_args, tl_leaves, th_leaves = [], [], [], []
    for v in values:
        if isinstance(v, _Diff):
            arr = cast_keep_layout(v.array, dtype)
            t = tl_tensor(arr, requires_grad)
            th = torch.from_numpy(arr).requires_grad_(requires_grad)
            tl_args.append(t), th_args.append(th), tl_leaves.append(t), th_leaves.append(th)
        elif isinstance(v, Const):
            tl_args.append(tl.tensor(v.array, device=device()))
            th_args.append(torch.from_numpy(v.array.copy()))
        else:
            tl_args.append(v), th_args.append(v)
    return tl_args, th_args, tl_leaves, th_leaves


def _upstream(shape, dtype):
    return np.asarray(np.random.standard_normal(shape), dtype=dtype)


def assert_grads_match(tl_grads, th_grads, leaves, tol, what):
    for i, (g, e, leaf) in enumerate(zip(tl_grads, th_grads, leaves)):
        label = f"{what}: gradient of input {i}"
        if e is None:  # unused by torch: tensorlite may give None or zeros
            if g is not None:
                assert not np.any(to_np(g)), f"{label}: torch says unused, got nonzero"
            continue
        assert g is not None, f"{label}: is None, torch gives a gradient"
        assert tuple(g.shape) == tuple(leaf.shape), f"{label}: shape {g.shape} != input {leaf.shape}"
        assert_close(g, e, what=label, **tol)


# ----------------------------------------------------------------------------- checkers
def check_op(fn, *args, grad=True, gradcheck=True, float32=True, rtol=None, atol=None):
    """Check ``fn(tl, *args)`` against ``fn(torch, *args)``; see the module docstring."""
    values = materialize(args, np.random.default_rng(np.random.randint(2**31)))
    dtypes = [np.float64, np.float32] if float32 else [np.float64]
    for dtype in dtypes:
        _check_in_dtype(fn, values, np.dtype(dtype), grad, rtol, atol)
        if dtype == np.float64 and grad and gradcheck:
            _gradcheck(fn, values)


def _check_in_dtype(fn, values, dtype, grad, rtol, atol):
    tl_args, th_args, tl_leaves, th_leaves = _build(values, dtype, grad)
    tl_out, th_out = _outputs(fn(tl, *tl_args)), _outputs(fn(torch, *th_args))
    assert len(tl_out) == len(th_out), f"{len(tl_out)} outputs, torch gives {len(th_out)}"
    tol = dict(FWD_TOL[dtype])
    tol.update({k: v for k, v in (("rtol", rtol), ("atol", atol)) if v is not None})
    for i, (a, e) in enumerate(zip(tl_out, th_out)):
        assert isinstance(a, tl.Tensor), f"output {i} is {type(a)}, not a tl.Tensor"
        assert_close(a, e, what=f"{dtype} forward output {i}", **tol)
    if not grad or not th_leaves:
        return
    pairs = [(a, e) for a, e in zip(tl_out, th_out) if e.requires_grad]
    for a, _ in pairs:
        assert a.requires_grad, "output does not require grad although an input does"
    gs = [_upstream(tuple(e.shape), dtype) for _, e in pairs]
    th_grads = torch.autograd.grad([e for _, e in pairs], th_leaves,
                                   grad_outputs=[torch.from_numpy(g) for g in gs], allow_unused=True)
    tl_gs = [tl.tensor(g, device=device()) for g in gs]
    if len(pairs) == 1:
        pairs[0][0].backward(gradient=tl_gs[0])
        tl_grads = [leaf.grad for leaf in tl_leaves]
    else:
        tl_grads = tl.autograd.grad([a for a, _ in pairs], tl_leaves, grad_outputs=tl_gs,
                                    allow_unused=True)
    gtol = dict(GRAD_TOL[dtype])
    if rtol is not None or atol is not None:
        gtol = {k: max(gtol[k], tol[k]) for k in gtol}
    assert_grads_match(tl_grads, th_grads, th_leaves, gtol, f"{dtype} backward")


def _bind(fn, values, leaves):
    """``fn`` as a function of the differentiable inputs only, returning its float outputs."""
    consts = {i: tl.tensor(v.array, device=device()) for i, v in enumerate(values)
              if isinstance(v, Const)}

    def f(*xs):
        it = iter(xs)
        args = [next(it) if isinstance(v, _Diff) else consts.get(i, v)
                for i, v in enumerate(values)]
        outs = [o for o in _outputs(fn(tl, *args)) if _is_float(o)]
        return outs[0] if len(outs) == 1 else tuple(outs)

    return f


def _float64_leaves(values):
    return tuple(tl_tensor(cast_keep_layout(v.array, np.float64), requires_grad=True)
                 for v in values if isinstance(v, _Diff))


def _gradcheck(fn, values):
    leaves = _float64_leaves(values)
    if leaves:
        assert tl.autograd.gradcheck(_bind(fn, values, leaves), leaves) is True


def check_second_order(fn, *args, gradgradcheck=True):
    """Gradients of gradients (``create_graph=True``) against torch, in float64."""
    values = materialize(args, np.random.default_rng(np.random.randint(2**31)))
    dtype = np.dtype(np.float64)
    tl_args, th_args, tl_leaves, th_leaves = _build(values, dtype, True)
    tl_out, th_out = fn(tl, *tl_args), fn(torch, *th_args)
    g = _upstream(tuple(th_out.shape), dtype)
    th_g1 = torch.autograd.grad(th_out, th_leaves, grad_outputs=torch.from_numpy(g),
                                create_graph=True, allow_unused=True)
    tl_g1 = tl.autograd.grad(tl_out, tl_leaves, grad_outputs=tl.tensor(g, device=device()),
                             create_graph=True, allow_unused=True)
    assert_grads_match(tl_g1, th_g1, th_leaves, GRAD_TOL[dtype], "first order")
    idx = [i for i, e in enumerate(th_g1) if e is not None and e.requires_grad]
    assert idx, "test bug: torch's first-order gradient does not depend on the inputs"
    for i in idx:
        assert tl_g1[i].requires_grad, f"create_graph=True: gradient {i} does not require grad"
    vs = [_upstream(tuple(th_g1[i].shape), dtype) for i in idx]
    th_g2 = torch.autograd.grad([th_g1[i] for i in idx], th_leaves,
                                grad_outputs=[torch.from_numpy(v) for v in vs], allow_unused=True)
    tl_g2 = tl.autograd.grad([tl_g1[i] for i in idx], tl_leaves,
                             grad_outputs=[tl.tensor(v, device=device()) for v in vs],
                             allow_unused=True)
    assert_grads_match(tl_g2, th_g2, th_leaves, GRAD_TOL[dtype], "second order")
    if gradgradcheck:
        leaves = _float64_leaves(values)
        assert tl.autograd.gradgradcheck(_bind(fn, values, leaves), leaves) is True
