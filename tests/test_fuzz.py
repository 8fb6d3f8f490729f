"""Differential fuzz: hypothesis-generated cases of every op in opinfo.TABLE, against PyTorch.

For each op, hypothesis draws a dtype (float64, float32, and int64/bool where the op takes
them), a value mode (ordinary numbers; exact ties and kinks such as 0; extremes: +-1e30,
+-inf, NaN, -0.0), shapes (0-d, size-0 and size-1 dims, broadcasting pairs), memory layouts
(C, Fortran, strided, permuted views) and the op's own arguments (dims, keepdim, correction,
...).  Each case checks, against torch on the same inputs:

* torch raises -> tensorlite raises (any exception; never a silent result), and vice versa;
* every output: type, shape, dtype, values (tolerance by dtype, NaN positions equal), and
  that it does not require grad where torch's does not;
* the gradient of every input for a random upstream gradient (never ``.sum()``), including an
  error in torch's backward; an output that tensorlite does not record counts as a zero
  gradient, which torch's must then be;
* for the activations (``activation=True`` in the table): first and second derivatives
  (``create_graph=True``) of ``act(x)``, ``act(x) * act(x)`` and ``act(x * w)``.

Runs are derandomized and bounded for CI: ``TENSORLITE_FUZZ_EXAMPLES`` examples per op and
test (default 20; about 20 s per backend when everything passes, 40 s with a dozen failing
ops being shrunk, on two cores).  Longer local runs:

    TENSORLITE_FUZZ_EXAMPLES=2000 python -m pytest tests/test_fuzz.py -q -k numpy

fresh random cases on each run (hypothesis then prints a ``@reproduce_failure`` blob):

    TENSORLITE_FUZZ_RANDOM=1 TENSORLITE_FUZZ_EXAMPLES=500 python -m pytest tests/test_fuzz.py

and ``TENSORLITE_FUZZ_SHRINK=0`` to report the first failing case unshrunk (faster).  A
failure prints the drawn case (``Draw 1 (case): Case(...)``): the op, dtype, value mode,
arrays with their layout, keyword arguments and the seed of the upstream gradients.
"""
import os
import warnings

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import tensorlite as tl
import tensorlite.ops
from helpers import FWD_TOL, GRAD_TOL, assert_close, tl_tensor, to_np
from opinfo import BY_NAME, EXCLUDED, F64, MODES, TABLE, Arg, Gen

EXAMPLES = int(os.environ.get("TENSORLITE_FUZZ_EXAMPLES", "20"))
RANDOM = os.environ.get("TENSORLITE_FUZZ_RANDOM", "0") not in ("", "0")
SHRINK = os.environ.get("TENSORLITE_FUZZ_SHRINK", "1") not in ("", "0")

FUZZ = settings(max_examples=EXAMPLES, derandomize=not RANDOM, deadline=None, database=None,
                print_blob=RANDOM,
                phases=[p for p in Phase if SHRINK or p is not Phase.shrink],
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large, HealthCheck.filter_too_much])

# Second derivatives at +-inf / NaN inputs differ by 0 * inf terms on paths whose derivative
# is structurally zero (torch keeps them, an equivalent formula need not); extremes are fuzzed
# at first order, second order takes ordinary values and exact ties/kinks.
SECOND_ORDER_MODES = ("normal", "ties")

# float32 accumulations (sums, matmul, norms) round differently from torch's summation order;
# gradients of norms over near-constant slices reach 1/sqrt(eps) ~ 316, hence the atol
ACCUM_F32_FWD = dict(rtol=2e-5, atol=1e-5)
ACCUM_F32_GRAD = dict(rtol=1e-4, atol=1e-4)


# ----------------------------------------------------------------------------- cases
class Case:
    def __init__(self, op, dtype, mode, args, kwargs, seed):
        self.op, self.dtype, self.mode = op, dtype, mode
        self.args, self.kwargs, self.seed = args, kwargs, seed

    def __repr__(self):
        args = ",\n    ".join(map(repr, self.args))
        return (f"Case({self.op.name}, dtype={self.dtype.name}, mode={self.mode},\n    {args},\n"
                f"    kwargs={self.kwargs!r}, grad seed={self.seed})")


@st.composite
def cases(draw, op, dtypes=None, modes=MODES):
    dtype = draw(st.sampled_from(dtypes or op.dtypes))
    mode = draw(st.sampled_from(modes))
    args, kwargs = op.sample(Gen(draw, dtype, mode, op.accum))
    return Case(op, dtype, mode, args, kwargs, draw(st.integers(0, 2**32 - 1)))


def _attempt(f):
    """``(f(), None)``, or ``(None, the exception)``; warnings and NumPy's float errors quiet."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            return f(), None
        except Exception as e:  # noqa: BLE001  any exception counts as "raises"
            return None, e


def _inputs(lib, args, grad):
    """Each library's tensors for ``args`` (own copies, layout kept) and the leaves."""
    tensors, leaves = [], []
    for a in args:
        arr = a.array()
        want = grad and not a.fixed and arr.dtype.kind == "f"
        if lib is torch:
            t = torch.from_numpy(arr).requires_grad_(want)
        else:
            t = tl_tensor(arr, want)
        tensors.append(t)
        if want:
            leaves.append(t)
    return tensors, leaves


def _flat(out):
    if isinstance(out, (tl.Tensor, torch.Tensor)):
        return [out]
    if isinstance(out, (tuple, list)):
        return [x for o in out for x in _flat(o)]
    return [out]


def _brief(x):
    outs = _flat(x)
    return ", ".join(f"{tuple(o.shape)} {o.dtype}" if hasattr(o, "shape") else repr(o)
                     for o in outs)


def _agree_on_errors(what, th_err, tl_err, tl_value):
    """True when both raised (nothing more to compare); fails when only one did."""
    if th_err is not None:
        assert tl_err is not None, (f"{what}: torch raises {type(th_err).__name__}: "
                                    f"{str(th_err)[:300]}; tensorlite returns {_brief(tl_value)}")
        return True
    if tl_err is not None:
        raise AssertionError(f"{what}: tensorlite raises {type(tl_err).__name__}: "
                             f"{str(tl_err)[:300]}; torch returns a result") from tl_err
    return False


def _tolerances(op, dtype):
    fwd, grad = dict(FWD_TOL[dtype]), dict(GRAD_TOL[dtype])
    if op.accum and dtype == np.float32:
        fwd, grad = ACCUM_F32_FWD, ACCUM_F32_GRAD
    return fwd, grad


def _float_dtype(tensors):
    """The least precise floating dtype among ``tensors`` (outputs and leaves: a float32
    leaf's gradient is rounded to float32 even where the output is float64)."""
    dts = {np.dtype(to_np(t).dtype) for t in tensors if isinstance(t, (tl.Tensor, torch.Tensor))}
    return np.dtype(np.float32) if np.dtype(np.float32) in dts else np.dtype(np.float64)


def _compare_outputs(what, tl_outs, th_outs, tol):
    assert len(tl_outs) == len(th_outs), \
        f"{what}: {len(tl_outs)} outputs, torch gives {len(th_outs)}"
    for i, (a, e) in enumerate(zip(tl_outs, th_outs)):
        label = f"{what} output {i}"
        if not isinstance(e, torch.Tensor):
            assert not isinstance(a, tl.Tensor) and a == e, f"{label}: {a!r}, torch gives {e!r}"
            continue
        assert isinstance(a, tl.Tensor), f"{label}: {type(a).__name__}, not a tl.Tensor"
        assert_close(a, e, what=label, **tol)
        # the converse (torch records an op whose gradient is zero, tensorlite does not) is
        # allowed: the gradient comparison then takes tensorlite's as zero
        assert e.requires_grad or not a.requires_grad, \
            f"{label}: requires grad, torch's does not"


def _upstream(rng, outs):
    return [rng.standard_normal(tuple(e.shape)).astype(to_np(e).dtype) for e in outs]


def _tl_grad(outs, leaves, grads, create_graph=False):
    """tensorlite's gradients of ``outs`` (weighted by ``grads``); outputs that do not require
    grad contribute nothing (torch's gradient through them must then be zero)."""
    kept = [(o, tl_tensor(g)) for o, g in zip(outs, grads) if o.requires_grad]
    if not kept:
        return (None,) * len(leaves)
    return tl.autograd.grad([o for o, _ in kept], leaves, grad_outputs=[g for _, g in kept],
                            create_graph=create_graph, allow_unused=True)


def assert_grads_match(tl_grads, th_grads, leaves, tol, what):
    """Gradient by gradient; None (unused) on either side stands for zeros."""
    for i, (g, e, leaf) in enumerate(zip(tl_grads, th_grads, leaves)):
        label = f"{what}: gradient of input {i}"
        if g is None or e is None:
            other = e if g is None else g
            assert other is None or not np.any(to_np(other)), \
                f"{label}: {'tensorlite' if g is None else 'torch'} gives none, the other " \
                f"{to_np(other)}"
            continue
        assert tuple(g.shape) == tuple(leaf.shape), f"{label}: shape {g.shape} != {leaf.shape}"
        assert_close(g, e, what=label, **tol)


def check_case(case):
    op = case.op
    th_in, th_leaves = _inputs(torch, case.args, op.grad)
    tl_in, tl_leaves = _inputs(tl, case.args, op.grad)
    th_out, th_err = _attempt(lambda: op.fn(torch, *th_in, **case.kwargs))
    tl_out, tl_err = _attempt(lambda: op.fn(tl, *tl_in, **case.kwargs))
    if _agree_on_errors("forward", th_err, tl_err, tl_out):
        return
    th_outs, tl_outs = _flat(th_out), _flat(tl_out)
    fwd_tol, grad_tol = _tolerances(op, _float_dtype(th_outs + th_leaves))
    _compare_outputs("forward", tl_outs, th_outs, fwd_tol)

    pairs = [(a, e) for a, e in zip(tl_outs, th_outs)
             if isinstance(e, torch.Tensor) and e.requires_grad]
    if not pairs or not th_leaves:
        return
    gs = _upstream(np.random.default_rng(case.seed), [e for _, e in pairs])
    th_g, th_err = _attempt(lambda: torch.autograd.grad(
        [e for _, e in pairs], th_leaves, [torch.from_numpy(g) for g in gs], allow_unused=True))
    tl_g, tl_err = _attempt(lambda: _tl_grad([a for a, _ in pairs], tl_leaves, gs))
    if _agree_on_errors("backward", th_err, tl_err, tl_g):
        return
    assert_grads_match(tl_g, th_g, th_leaves, grad_tol, "backward")


# ----------------------------------------------------------------------------- second order
def _second_order_fn(op, form):
    """``act(x)``, ``act(x) * act(x)`` or ``act(x * w)`` (w: one more leaf, appended last)."""
    if form == "plain":
        return op.fn
    if form == "square":
        def fn(lib, *ts, **kw):
            y = op.fn(lib, *ts, **kw)
            return y * y
        return fn

    def inner(lib, *ts, **kw):
        return op.fn(lib, ts[0] * ts[-1], *ts[1:-1], **kw)
    return inner


def check_second_order(case, form):
    op = case.op
    args = list(case.args)
    if form == "inner":
        args.append(Arg(np.random.default_rng(case.seed).uniform(0.5, 2.0, args[0].shape)))
    fn = _second_order_fn(op, form)
    th_in, th_leaves = _inputs(torch, args, True)
    tl_in, tl_leaves = _inputs(tl, args, True)
    th_out, th_err = _attempt(lambda: fn(torch, *th_in, **case.kwargs))
    tl_out, tl_err = _attempt(lambda: fn(tl, *tl_in, **case.kwargs))
    if _agree_on_errors("forward", th_err, tl_err, tl_out):
        return
    tol = GRAD_TOL[np.dtype(np.float64)]
    _compare_outputs("forward", [tl_out], [th_out], FWD_TOL[np.dtype(np.float64)])
    rng = np.random.default_rng(case.seed + 1)
    (g,) = _upstream(rng, [th_out])
    th_g1, th_err = _attempt(lambda: torch.autograd.grad(
        th_out, th_leaves, torch.from_numpy(g), create_graph=True, allow_unused=True))
    tl_g1, tl_err = _attempt(lambda: _tl_grad([tl_out], tl_leaves, [g], create_graph=True))
    if _agree_on_errors("first order", th_err, tl_err, tl_g1):
        return
    assert_grads_match(tl_g1, th_g1, th_leaves, tol, "first order")
    idx = [i for i, e in enumerate(th_g1) if e is not None and e.requires_grad]
    if not idx:
        return
    # a first-order gradient that does not require grad (or is None) in tensorlite has
    # second derivatives of zero, which must then be torch's too
    vs = _upstream(rng, [th_g1[i] for i in idx])
    th_g2, th_err = _attempt(lambda: torch.autograd.grad(
        [th_g1[i] for i in idx], th_leaves, [torch.from_numpy(v) for v in vs],
        allow_unused=True))
    kept = [(tl_g1[i], v) for i, v in zip(idx, vs) if tl_g1[i] is not None]
    tl_g2, tl_err = _attempt(lambda: _tl_grad([o for o, _ in kept], tl_leaves,
                                              [v for _, v in kept]))
    if _agree_on_errors("second order", th_err, tl_err, tl_g2):
        return
    assert_grads_match(tl_g2, th_g2, th_leaves, tol, "second order")


# ----------------------------------------------------------------------------- tests
OPS = [pytest.param(op, id=op.name) for op in TABLE]
ACTIVATIONS = [pytest.param(op, id=op.name) for op in TABLE if op.activation]


@pytest.mark.parametrize("op", OPS)
@FUZZ
@given(data=st.data())
def test_fuzz_op(backend, op, data):
    check_case(data.draw(cases(op), label="case"))


@pytest.mark.parametrize("op", ACTIVATIONS)
@FUZZ
@given(data=st.data())
def test_fuzz_second_order(backend, op, data):
    case = data.draw(cases(op, dtypes=(F64,), modes=SECOND_ORDER_MODES), label="case")
    check_second_order(case, data.draw(st.sampled_from(["plain", "square", "inner"]),
                                       label="form"))


# ----------------------------------------------------------------------------- table coverage
def _public_ops():
    """Every registered op (tensorlite.ops.REGISTRY, with its in-place method; or, before the
    registry, the ``_METHODS`` installed as Tensor methods), every function of tensorlite.ops
    that is a Tensor method, and every function of tensorlite.nn.functional."""
    ops, F = tensorlite.ops, tl.nn.functional
    registry = getattr(ops, "REGISTRY", None)
    if registry is not None:
        names = set(registry) | {e.inplace for e in registry.values() if e.inplace}
    else:
        names = set(ops._METHODS)
    names |= {n for n in dir(ops) if not n.startswith("_") and callable(getattr(ops, n))
              and getattr(tl.Tensor, n, None) is getattr(ops, n)}
    names |= {n for n in dir(F) if not n.startswith("_") and callable(getattr(F, n))}
    return names


def test_every_public_op_is_in_the_table_or_excluded():
    public = _public_ops()
    covered = {name for op in TABLE for name in op.covers}
    missing = sorted(public - covered - set(EXCLUDED))
    assert not missing, (f"ops fuzzed by no entry of tests/opinfo.TABLE: {missing}; add an "
                         "OpInfo (or an EXCLUDED entry with the reason)")
    unknown = sorted(n for n in covered - public if not callable(getattr(tl, n, None)))
    assert not unknown, f"TABLE entries cover names that are not public ops: {unknown}"
    stale = sorted(set(EXCLUDED) - public)
    assert not stale, f"EXCLUDED names that are not public ops: {stale}"
    both = sorted(set(EXCLUDED) & covered)
    assert not both, f"ops both fuzzed and EXCLUDED: {both}"
    assert all(isinstance(r, str) and r.strip() for r in EXCLUDED.values()), \
        "every EXCLUDED entry needs a reason"


def test_conformance_suite_ops_are_in_the_table():
    """Each op named by a case of test_ops.py (the ``name-variant`` ids and the BINARY/UNARY
    tables) is fuzzed here too."""
    import test_ops
    ids = [p.id for p in test_ops.ALL_CASES + test_ops.SECOND_ORDER_CASES]
    names = {i.split("-")[0] for i in ids if "-" in i}
    names |= {n.removesuffix("_op").removesuffix("_fn").removesuffix("_method")
              for n in list(test_ops.BINARY) + list(test_ops.UNARY)}
    ops = {n for n in names if hasattr(tl.Tensor, n) or hasattr(tl, n)}
    assert {"add", "pow", "maximum", "exp", "relu", "clamp", "sum", "var", "amax", "max",
            "softmax"} <= ops, f"test bug: the case names of test_ops.py changed: {sorted(ops)}"
    covered = {name for op in TABLE for name in op.covers} | set(BY_NAME)
    assert sorted(ops - covered) == []


def test_every_activation_is_fuzzed_for_second_order():
    F = tl.nn.functional
    acts = {"relu", "tanh", "sigmoid", "exp", "softmax", "log_softmax", "logsumexp"}
    acts |= {n for n in ("gelu", "leaky_relu", "softplus", "elu", "selu", "silu", "mish",
                         "hardtanh", "relu6", "celu", "softsign", "tanhshrink", "logsigmoid")
             if hasattr(F, n)}
    second = {op.name for op in TABLE if op.activation}
    assert sorted(acts - second) == []
