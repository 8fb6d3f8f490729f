"""The group optimizer steps (``Backend.sgd_steps``, ``adam_steps``, ...: every parameter of a
group in one call) against the per-parameter reference steps, and the optimizers' group path
against their per-parameter path.

The numba backend fuses a group into one kernel pass (backends/numba_optim.py); it must equal
the reference's per-parameter steps bit for bit (same arithmetic in the same order), on the
calling thread and on the pool, in float32 and float64, with 0-d, size-1 and empty parameters,
NaN/inf gradients and parameters whose step counts differ.
"""
import numpy as np
import pytest
import torch

import tensorlite as tl
from tensorlite import backends
from tensorlite.optim import optimizer as optimizer_module

SHAPES = [(3, 5), (), (1,), (0, 2), (7, 1), (40,)]


# (where the kernel runs, dtype): each path in one dtype, so each kernel compiles once per
# dtype (the arithmetic is dtype-blind; the cold compiles dominated this file's time in CI)
@pytest.fixture(params=[("serial", np.float32), ("parallel", np.float64)],
                ids=["serial-float32", "parallel-float64"])
def nb_dtype(request, monkeypatch):
    reason = backends.unavailable_reason("numba")
    if reason:
        pytest.skip(reason)
    B = backends.get("numba")
    mode, dtype = request.param
    monkeypatch.setattr(B, "PARALLEL_MIN", 1 << 62 if mode == "serial" else 1)
    return B, dtype


@pytest.fixture
def nb(nb_dtype):
    return nb_dtype[0]


@pytest.fixture
def ref():
    return backends.get("numpy")


def _arrays(rng, dtype, special=False):
    out = [np.array(rng.standard_normal(s), dtype=dtype) for s in SHAPES]
    if special:
        out[0][0, :3] = [np.nan, np.inf, -np.inf]
    return out


def _copy(lists):
    return [None if x is None else [a.copy() for a in x] for x in lists]


def _same(got, want):
    for gl, wl in zip(got, want):
        if wl is None:
            continue
        for a, b in zip(gl, wl):
            assert a.dtype == b.dtype and a.shape == b.shape
            np.testing.assert_array_equal(a, b)  # bitwise up to NaN payloads


# (optimizer, options): the group primitive <name>_steps against <name>_step
CASES = [
    ("sgd", dict(momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("sgd", dict(momentum=0.8, dampening=0.3, maximize=True)),
    ("sgd", dict()),
    ("adam", dict(weight_decay=0.1, decoupled_weight_decay=True)),
    ("adam", dict(weight_decay=0.05, maximize=True, amsgrad=True)),
    ("adadelta", dict()),
    ("adadelta", dict(weight_decay=0.1, maximize=True)),
    ("rmsprop", dict(momentum=0.5, centered=True)),
    ("rmsprop", dict(centered=False)),
    ("rmsprop", dict(centered=True, weight_decay=0.1, maximize=True)),
    ("adagrad", dict(lr_decay=0.01)),
    ("adagrad", dict(weight_decay=0.1, maximize=True)),
    ("adamax", dict(weight_decay=0.1)),
    ("adamax", dict(maximize=True)),
    ("nadam", dict(decoupled_weight_decay=True, weight_decay=0.1)),
    ("nadam", dict(weight_decay=0.1, maximize=True)),
    ("radam", dict()),
    ("radam", dict(weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
]


def _call(B, name, options, p, g, state, steps, group):
    """B.<name>_steps over the lists (group) or B.<name>_step on each parameter."""
    o = dict(options)
    k = len(p)
    idx = range(k)
    if name == "sgd":
        buf = state[0] if o.get("momentum") else None
        firsts = [steps[i] == 1 for i in idx]
        if group:
            B.sgd_steps(p, g, buf, 0.1, firsts=firsts if buf else None, **o)
        else:
            for i in idx:
                B.sgd_step(p[i], g[i], None if buf is None else buf[i], 0.1, first=firsts[i], **o)
    elif name == "adam":
        vmax = state[2] if o.pop("amsgrad", False) else None
        args = (0.01, 0.9, 0.999, 1e-8)
        if group:
            B.adam_steps(p, g, state[0], state[1], vmax, steps, *args, **o)
        else:
            for i in idx:
                B.adam_step(p[i], g[i], state[0][i], state[1][i],
                            None if vmax is None else vmax[i], steps[i], *args, **o)
    elif name == "adadelta":
        if group:
            B.adadelta_steps(p, g, state[0], state[1], 1.0, 0.9, 1e-6, **o)
        else:
            for i in idx:
                B.adadelta_step(p[i], g[i], state[0][i], state[1][i], 1.0, 0.9, 1e-6, **o)
    elif name == "rmsprop":
        centered = o.pop("centered")
        avg = state[1] if centered else None
        buf = state[2] if o.get("momentum") else None
        if group:
            B.rmsprop_steps(p, g, state[0], avg, buf, 0.01, 0.99, 1e-8, **o)
        else:
            for i in idx:
                B.rmsprop_step(p[i], g[i], state[0][i], None if avg is None else avg[i],
                               None if buf is None else buf[i], 0.01, 0.99, 1e-8, **o)
    elif name == "adagrad":
        if group:
            B.adagrad_steps(p, g, state[0], steps, 0.01, **o)
        else:
            for i in idx:
                B.adagrad_step(p[i], g[i], state[0][i], steps[i], 0.01, **o)
    elif name == "adamax":
        if group:
            B.adamax_steps(p, g, state[0], state[1], steps, 0.002, 0.9, 0.999, 1e-8, **o)
        else:
            for i in idx:
                B.adamax_step(p[i], g[i], state[0][i], state[1][i], steps[i], 0.002, 0.9,
                              0.999, 1e-8, **o)
    elif name == "nadam":
        mus = [0.9 * (1 - 0.5 * 0.96 ** (s * 0.004)) for s in steps]
        nexts = [0.9 * (1 - 0.5 * 0.96 ** ((s + 1) * 0.004)) for s in steps]
        prods = [0.5 + 0.01 * s for s in steps]
        args = (0.002, 0.9, 0.999, 1e-8)
        if group:
            B.nadam_steps(p, g, state[0], state[1], steps, *args, mus, nexts, prods, **o)
        else:
            for i in idx:
                B.nadam_step(p[i], g[i], state[0][i], state[1][i], steps[i], *args, mus[i],
                             nexts[i], prods[i], **o)
    else:
        if group:
            B.radam_steps(p, g, state[0], state[1], steps, 0.001, 0.9, 0.999, 1e-8, **o)
        else:
            for i in idx:
                B.radam_step(p[i], g[i], state[0][i], state[1][i], steps[i], 0.001, 0.9, 0.999,
                             1e-8, **o)


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
@pytest.mark.parametrize("name, options", CASES, ids=lambda c: str(c))
def test_group_step_equals_per_parameter_reference(nb_dtype, ref, rng, name, options):
    """Three group steps on numba == three per-parameter reference steps; parameter 1 is one
    step behind (its step count differs), the first gradients hold NaN and inf."""
    nb, dtype = nb_dtype
    p = _arrays(rng, dtype)
    state = [[np.array(np.abs(a)) for a in _arrays(rng, dtype)] for _ in range(3)]
    got, want = _copy([p] + state), _copy([p] + state)
    steps = [4 if name == "radam" else 1] * len(SHAPES)  # radam: rho_t crosses 5 at step 6
    steps[1] -= 1
    for k in range(3):
        g = _arrays(rng, dtype, special=k == 0)
        _call(nb, name, options, got[0], g, got[1:], [s + k + 1 for s in steps], True)
        _call(ref, name, options, want[0], g, want[1:], [s + k + 1 for s in steps], False)
    _same(got, want)


def test_group_step_falls_back_on_arrays_it_does_not_take(nb, ref, rng):
    """A strided parameter or mixed dtypes in the group: the whole group takes the reference."""
    strided = rng.standard_normal((4, 6))[:, ::2]
    g = [rng.standard_normal((4, 3)), rng.standard_normal(3)]
    got = [[strided, rng.standard_normal(3)], [np.zeros((4, 3)), np.zeros(3)],
           [np.zeros((4, 3)), np.zeros(3)]]
    want = _copy(got)
    nb.adam_steps(got[0], g, got[1], got[2], None, [1, 1], 0.01, 0.9, 0.999, 1e-8)
    for i in range(2):
        ref.adam_step(want[0][i], g[i], want[1][i], want[2][i], None, 1, 0.01, 0.9, 0.999, 1e-8)
    _same(got, want)
    q = [np.ones(3, np.float32), np.ones(2)]  # mixed dtypes
    r = [a.copy() for a in q]
    nb.sgd_steps(q, [a * 0.5 for a in q], None, 0.1)
    for a in r:
        ref.sgd_step(a, a * 0.5, None, 0.1)
    _same([q], [r])


OPTIMIZERS = [
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("AdamW", dict(lr=0.01)),
    ("Adadelta", dict(weight_decay=0.01)),
    ("RMSprop", dict(centered=True)),
    ("NAdam", dict()),
    ("RAdam", dict(lr=0.01)),
    ("Adamax", dict()),
    ("Adagrad", dict(lr_decay=0.1)),
]


@pytest.mark.parametrize("name, kwargs", OPTIMIZERS, ids=lambda c: str(c))
def test_optimizer_group_path_matches_torch_and_per_parameter_path(rng, monkeypatch, name,
                                                                    kwargs):
    """On numba, float32: the group path (one call per group) equals the per-parameter path bit
    for bit and torch within rounding; a parameter without a gradient every third step, a
    parameter whose .data is replaced, and a state_dict round trip on the way."""
    if backends.unavailable_reason("numba"):
        pytest.skip(backends.unavailable_reason("numba"))
    values = [rng.standard_normal(s).astype(np.float32) for s in [(6, 5), (5,), (), (33,)]]
    grads = [[rng.standard_normal(v.shape).astype(np.float32) for v in values]
             for _ in range(7)]
    results = []
    with tl.use_backend("numba"):
        for fused in (True, False):
            if not fused:
                monkeypatch.setattr(optimizer_module, "_fused", lambda cls: False)
            ps = [tl.tensor(v.copy(), requires_grad=True) for v in values]
            opt = getattr(tl.optim, name)(ps, **kwargs)
            for k, gs in enumerate(grads):
                for i, (p, g) in enumerate(zip(ps, gs)):
                    p.grad = None if (i == 1 and k % 3 == 2) else tl.tensor(g)
                opt.step()
                if k == 3:
                    ps[3].data = ps[3].data.clone()  # user code replacing p.data
                    sd = opt.state_dict()
                    opt = getattr(tl.optim, name)(ps, **kwargs)
                    opt.load_state_dict(sd)
            results.append([p.detach().numpy().copy() for p in ps])
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)
    tps = [torch.tensor(v.copy(), requires_grad=True) for v in values]
    topt = getattr(torch.optim, name)(tps, **kwargs)
    for k, gs in enumerate(grads):
        for i, (p, g) in enumerate(zip(tps, gs)):
            p.grad = None if (i == 1 and k % 3 == 2) else torch.tensor(g)
        topt.step()
    for a, b in zip(results[0], tps):
        np.testing.assert_allclose(a, b.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_failed_step_changes_nothing():
    """A bad gradient anywhere in the group: the step raises before any parameter or state
    changes (the group call comes after every check)."""
    if backends.unavailable_reason("numba"):
        pytest.skip(backends.unavailable_reason("numba"))
    with tl.use_backend("numba"):
        ps = [tl.ones(4, requires_grad=True), tl.ones(3, requires_grad=True)]
        plain = tl.optim.Adam([ps[1]], lr=0.1)
        ps[1].grad = tl.ones(3)
        plain.step()
        before = ps[1].detach().numpy().copy()
        opt = tl.optim.Adam(ps, lr=0.1, amsgrad=True)
        opt.state[ps[1]] = plain.state[ps[1]]  # no max_exp_avg_sq: parameter 1 fails the check
        ps[0].grad = tl.ones(4)
        with pytest.raises(RuntimeError, match="max_exp_avg_sq"):
            opt.step()
        assert ps[0] not in opt.state and float(opt.state[ps[1]]["step"]) == 1
        np.testing.assert_array_equal(ps[0].detach().numpy(), np.ones(4, np.float32))
        np.testing.assert_array_equal(ps[1].detach().numpy(), before)


def test_duplicate_parameter_updated_once_per_occurrence():
    """A parameter listed twice takes the per-parameter path: two updates, as torch."""
    if backends.unavailable_reason("numba"):
        pytest.skip(backends.unavailable_reason("numba"))
    with tl.use_backend("numba"), pytest.warns(UserWarning):
        p = tl.ones(3, requires_grad=True)
        opt = tl.optim.SGD([p, p], lr=0.5)
    with tl.use_backend("numba"):
        p.grad = tl.ones(3)
        opt.step()
    np.testing.assert_array_equal(p.detach().numpy(), np.zeros(3, np.float32))
