"""tensorlite.optim and gradient clipping against torch.optim / torch.nn.utils (the oracle).

Parity runs feed the same initial parameters and the same sequence of random gradients (set
as ``p.grad`` directly) to a tensorlite optimizer and its torch twin, in float64.
"""
import copy
import math
import re
import warnings

import numpy as np
import pytest
import torch

import tensorlite as tl
import tensorlite.nn  # noqa: F401  (tl.nn.utils)
from tensorlite import optim

SHAPES = [(3, 4), (5,), (), (2, 3, 2)]
STEPS = 20
RTOL, ATOL = 1e-10, 1e-12


# ----------------------------------------------------------------------------- helpers
def make_values(rng, shapes=SHAPES):
    return [np.asarray(rng.standard_normal(s)) for s in shapes]


def make_grads(rng, steps=STEPS, shapes=SHAPES):
    """One list of gradients per step; parameter 1 gets no gradient every 4th step."""
    return [[None if (k % 4 == 3 and i == 1) else np.asarray(rng.standard_normal(s))
             for i, s in enumerate(shapes)] for k in range(steps)]


def tl_params(values, device):
    return [tl.tensor(v.copy(), device=device, requires_grad=True) for v in values]


def th_params(values):
    return [torch.tensor(v.copy(), requires_grad=True) for v in values]


def feed(params, grads, lib, device=None):
    for p, g in zip(params, grads):
        if g is None:
            p.grad = None
        elif lib is tl:
            p.grad = tl.tensor(g.copy(), device=device)
        else:
            p.grad = torch.tensor(g.copy())


def to_np(t):
    return t.detach().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)


def assert_params_equal(tl_ps, th_ps, rtol=RTOL, atol=ATOL, what=""):
    for i, (a, b) in enumerate(zip(tl_ps, th_ps)):
        a, b = to_np(a), to_np(b)
        assert a.shape == b.shape and a.dtype == b.dtype, (what, i, a.shape, b.shape)
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=f"{what} param {i}")


def run(opt_cls, kwargs, params, grad_seq, lib, device=None):
    opt = opt_cls(params, **kwargs)
    for grads in grad_seq:
        feed(params, grads, lib, device)
        opt.step()
    return opt


CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.3)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.05, momentum=0.9, weight_decay=0.05)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.05, maximize=True)),
    ("SGD", dict(lr=0.05, momentum=0.5, dampening=0.5, weight_decay=0.01, maximize=True)),
    ("SGD", dict(lr=0.1, weight_decay=0.1, maximize=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.1)),
    ("Adam", dict(lr=0.02, amsgrad=True, weight_decay=0.1, maximize=True)),
    ("Adam", dict(lr=0.02, betas=(0.3, 0.6), eps=1e-3)),  # lerp's weight >= 0.5 branch
    ("Adam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    ("AdamW", dict()),
    ("AdamW", dict(lr=0.01, amsgrad=True)),
    ("AdamW", dict(lr=0.01, weight_decay=0.3, maximize=True)),
    ("RMSprop", dict()),
    ("RMSprop", dict(centered=True)),
    ("RMSprop", dict(momentum=0.9)),
    ("RMSprop", dict(centered=True, momentum=0.9, weight_decay=0.1, maximize=True)),
    ("RMSprop", dict(lr=0.003, alpha=0.3, centered=True)),  # lerp's weight >= 0.5 branch
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05, weight_decay=0.1, initial_accumulator_value=0.5,
                     maximize=True)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.5, weight_decay=0.1, maximize=True)),
]
IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'defaults'}"
       for name, kw in CASES]


def classes(name):
    return getattr(optim, name), getattr(torch.optim, name)


# ----------------------------------------------------------------------------- parity
@pytest.mark.parametrize("name,kwargs", CASES, ids=IDS)
def test_parity_with_torch(backend, rng, name, kwargs):
    values, grad_seq = make_values(rng), make_grads(rng)
    tl_cls, th_cls = classes(name)
    ours, theirs = tl_params(values, backend.device), th_params(values)
    run(tl_cls, kwargs, ours, grad_seq, tl, backend.device)
    run(th_cls, kwargs, theirs, grad_seq, torch)
    assert_params_equal(ours, theirs, what=name)
    moved = max(np.abs(to_np(p) - v).max() for p, v in zip(ours, values))
    assert moved > 1e-3  # the run really trained


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta"])
def test_float32_parity_and_dtypes(backend, rng, name):
    values = [v.astype(np.float32) for v in make_values(rng)]
    grad_seq = [[None if g is None else g.astype(np.float32) for g in gs]
                for gs in make_grads(rng, steps=5)]
    tl_cls, th_cls = classes(name)
    kwargs = dict(lr=0.05, momentum=0.9) if name == "SGD" else {}
    ours, theirs = tl_params(values, backend.device), th_params(values)
    opt = run(tl_cls, kwargs, ours, grad_seq, tl, backend.device)
    run(th_cls, kwargs, theirs, grad_seq, torch)
    assert_params_equal(ours, theirs, rtol=1e-5, atol=1e-6, what=name)
    for p in ours:
        for key, value in opt.state[p].items():
            expected = tl.float32
            assert value.dtype == expected, (key, value.dtype)
            assert value.device == (backend.device if key != "step" else "cpu")


def test_param_groups_with_different_hyperparameters(backend, rng):
    values, grad_seq = make_values(rng), make_grads(rng)
    results = []
    for lib, lib_optim, params in ((tl, optim, tl_params(values, backend.device)),
                                   (torch, torch.optim, th_params(values))):
        groups = [{"params": params[:2], "lr": 0.1}, {"params": params[2:3]}]
        sgd = lib_optim.SGD(groups, lr=0.01, momentum=0.9)
        adam = None
        for k, grads in enumerate(grad_seq):
            feed(params, grads, lib, backend.device)
            if k == 5:  # a group added mid-training, with its own momentum
                sgd.add_param_group({"params": [params[3]], "momentum": 0.3, "nesterov": True})
            sgd.step()
        assert [g["lr"] for g in sgd.param_groups] == [0.1, 0.01, 0.01]
        assert [g["momentum"] for g in sgd.param_groups] == [0.9, 0.9, 0.3]
        adam = lib_optim.Adam([{"params": params[:1], "betas": (0.5, 0.9)},
                               {"params": params[1:], "lr": 0.03}], lr=0.01)
        for grads in grad_seq[:7]:
            feed(params, grads, lib, backend.device)
            adam.step()
        results.append(params)
    assert_params_equal(*results, what="param groups")


@pytest.mark.parametrize("name", ["SGD", "Adam", "Adagrad"])
def test_add_param_group_mid_training(backend, rng, name):
    values, grad_seq = make_values(rng), make_grads(rng, steps=10)
    kwargs = dict(lr=0.1, momentum=0.9) if name == "SGD" else dict(lr=0.1)
    results = []
    for lib, cls, params in ((tl, classes(name)[0], tl_params(values, backend.device)),
                             (torch, classes(name)[1], th_params(values))):
        opt = cls(params[:2], **kwargs)
        for k, grads in enumerate(grad_seq):
            if k == 4:
                opt.add_param_group({"params": params[2:], "lr": 0.02})
            feed(params, grads, lib, backend.device)
            try:
                opt.step()
            except KeyError as e:  # the oracle itself fails: some torch releases' Adagrad
                if lib is tl:      # builds state in __init__ only
                    raise
                pytest.skip(f"torch {torch.__version__}'s {name}.add_param_group leaves the new "
                            f"parameters without state (KeyError {e}): no oracle here")
        results.append(params)
    assert_params_equal(*results, what=name)


# ----------------------------------------------------------------------------- state_dict
@pytest.mark.parametrize("name,kwargs", CASES, ids=IDS)
def test_state_dict_round_trip(backend, rng, name, kwargs):
    """Save after 5 steps, load into a fresh optimizer (built with default hyperparameters: the
    checkpoint's replace them) over fresh parameters, continue: equal to an uninterrupted run."""
    values, grad_seq = make_values(rng), make_grads(rng)
    cls = classes(name)[0]
    straight = tl_params(values, backend.device)
    run(cls, kwargs, straight, grad_seq, tl, backend.device)

    first = tl_params(values, backend.device)
    opt = run(cls, kwargs, first, grad_seq[:5], tl, backend.device)
    saved = opt.state_dict()
    second = [tl.tensor(np.asarray(p.detach()), device=backend.device, requires_grad=True)
              for p in first]
    resumed = cls(second, lr=123.0)
    resumed.load_state_dict(saved)
    assert resumed.param_groups[0]["lr"] == kwargs.get("lr", opt.defaults["lr"])
    for grads in grad_seq[5:]:  # both continue; the loaded state must not alias the saved one
        feed(first, grads, tl, backend.device)
        opt.step()
        feed(second, grads, tl, backend.device)
        resumed.step()
    for a, b, c in zip(straight, first, second):
        np.testing.assert_array_equal(np.asarray(a.detach()), np.asarray(b.detach()))
        np.testing.assert_array_equal(np.asarray(a.detach()), np.asarray(c.detach()))


@pytest.mark.parametrize("name,kwargs", CASES[::2], ids=IDS[::2])
def test_state_dict_layout_matches_torch(backend, rng, name, kwargs):
    values, grad_seq = make_values(rng), make_grads(rng, steps=5)
    tl_cls, th_cls = classes(name)
    ours = run(tl_cls, kwargs, tl_params(values, backend.device), grad_seq, tl, backend.device)
    theirs = run(th_cls, kwargs, th_params(values), grad_seq, torch)
    a, b = ours.state_dict(), theirs.state_dict()
    assert list(a) == list(b) == ["state", "param_groups"]
    assert list(a["state"]) == list(b["state"])
    for i in b["state"]:
        assert list(a["state"][i]) == list(b["state"][i]), i
        for key, value in b["state"][i].items():
            assert isinstance(a["state"][i][key], tl.Tensor)
            np.testing.assert_allclose(to_np(a["state"][i][key]), to_np(value), rtol=RTOL,
                                       atol=ATOL, err_msg=f"state[{i}][{key!r}]")
    torch_only = {"foreach", "fused", "differentiable", "capturable"}  # torch's kernel switches
    assert len(a["param_groups"]) == len(b["param_groups"])
    for ga, gb in zip(a["param_groups"], b["param_groups"]):
        assert set(ga) == set(gb) - torch_only
        assert {k: ga[k] for k in ga} == {k: gb[k] for k in ga}


def test_load_state_dict_validates(backend, rng):
    values = make_values(rng)
    params = tl_params(values, backend.device)
    opt = optim.Adam([{"params": params[:2]}, {"params": params[2:]}])
    feed(params, make_grads(rng, steps=1)[0], tl, backend.device)
    opt.step()
    saved = opt.state_dict()
    with pytest.raises(ValueError, match="different number of parameter groups"):
        optim.Adam(tl_params(values, backend.device)).load_state_dict(saved)
    other = tl_params(values, backend.device)
    with pytest.raises(ValueError, match="doesn't match the size"):
        optim.Adam([{"params": other[:1]}, {"params": other[1:]}]).load_state_dict(saved)
    swapped = tl_params([values[1], values[0]] + values[2:], backend.device)
    with pytest.raises(ValueError, match=r"exp_avg.*\[3, 4\].*parameter is float64\[5\]"):
        optim.Adam([{"params": swapped[:2]}, {"params": swapped[2:]}]).load_state_dict(saved)
    with pytest.raises(ValueError, match="'state' and 'param_groups'"):
        opt.load_state_dict({"state": {}})
    old = copy.deepcopy(saved)  # a checkpoint lacking a newer hyperparameter gets the default
    for group in old["param_groups"]:
        del group["decoupled_weight_decay"]
    fresh = tl_params(values, backend.device)
    opt2 = optim.Adam([{"params": fresh[:2]}, {"params": fresh[2:]}])
    opt2.load_state_dict(old)
    assert all(g["decoupled_weight_decay"] is False for g in opt2.param_groups)
    assert "decoupled_weight_decay" not in old["param_groups"][0]


def test_load_state_dict_from_torch_checkpoint(backend, rng):
    """A torch optimizer's state_dict (torch tensors) loads and continues identically."""
    values, grad_seq = make_values(rng), make_grads(rng, steps=10)
    theirs = th_params(values)
    th_opt = run(torch.optim.Adam, dict(lr=0.01, amsgrad=True), theirs, grad_seq[:4], torch)
    ours = [tl.tensor(p.detach().numpy().copy(), device=backend.device, requires_grad=True)
            for p in theirs]
    opt = optim.Adam(ours)
    opt.load_state_dict(copy.deepcopy(th_opt.state_dict()))
    for grads in grad_seq[4:]:
        feed(theirs, grads, torch)
        th_opt.step()
        feed(ours, grads, tl, backend.device)
        opt.step()
    assert_params_equal(ours, theirs, what="resumed from torch")
    assert float(opt.state[ours[0]]["step"]) == 10.0


# ----------------------------------------------------------------------------- behaviour
def test_zero_grad_both_modes(backend, rng):
    params = tl_params(make_values(rng), backend.device)
    feed(params, make_grads(rng, steps=4)[3], tl, backend.device)  # params[1] has no grad
    opt = optim.SGD(params, lr=0.1)
    kept = [p.grad for p in params]
    opt.zero_grad(set_to_none=False)
    for p, g in zip(params, kept):
        assert p.grad is g  # zeroed in place
        if g is not None:
            assert not np.asarray(g).any() and not g.requires_grad
    assert params[1].grad is None
    opt.zero_grad()
    assert all(p.grad is None for p in params)


def test_parameters_without_grad_are_skipped(backend, rng):
    values = make_values(rng)
    params = tl_params(values, backend.device)
    opt = optim.Adam(params, lr=0.1, weight_decay=0.1)
    params[0].grad = tl.tensor(np.ones(SHAPES[0]), device=backend.device)
    opt.step()
    for p, v in zip(params[1:], values[1:]):
        np.testing.assert_array_equal(np.asarray(p.detach()), v)
    assert list(opt.state) == [params[0]]


def test_step_bumps_versions_and_records_nothing(backend, rng):
    p = tl.tensor(rng.standard_normal((3, 2)), device=backend.device, requires_grad=True)
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    y = (p * p).sum()  # saves p for its backward
    p.grad = tl.ones_like(p)
    v0 = p._version[0]
    opt.step()
    assert p._version[0] > v0
    assert p.is_leaf and p.requires_grad and p.grad_fn is None
    assert opt.state[p]["momentum_buffer"]._version[0] >= 1
    with pytest.raises(RuntimeError):
        y.backward()  # p changed in place after being saved


def test_closure(backend, rng):
    values = make_values(rng, [(4,)])
    target = rng.standard_normal(4)
    losses = []
    for lib, lib_optim, params in ((tl, optim, tl_params(values, backend.device)),
                                   (torch, torch.optim, th_params(values))):
        t = (tl.tensor(target, device=backend.device) if lib is tl else torch.tensor(target))
        opt = lib_optim.SGD(params, lr=0.1, momentum=0.5)

        def closure():
            opt.zero_grad()
            loss = ((params[0] - t) ** 2).sum()
            loss.backward()
            return loss
        losses.append([float(opt.step(closure).detach()) for _ in range(6)])
        assert opt.step() is None
    np.testing.assert_allclose(losses[0], losses[1], rtol=RTOL)
    assert losses[0][-1] < losses[0][0]


def test_grad_from_backward_on_0d_parameter(backend):
    """A 0-d parameter's gradient from backward (possibly a NumPy scalar) steps and clips."""
    p = tl.tensor(np.float64(1.5), device=backend.device, requires_grad=True)
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    for _ in range(2):
        opt.zero_grad()
        (p * p * 3).backward()
        tl.nn.utils.clip_grad_value_([p], 4.0)
        opt.step()
    # grads 4 (clipped from 9), then 4 (clipped from 6.6): p = 1.5 - 0.4 - 0.1*(0.9*4 + 4)
    assert abs(p.item() - (1.5 - 0.4 - 0.76)) < 1e-12


ERRORS = [
    ("SGD", dict(lr=-1)), ("SGD", dict(momentum=-0.1)), ("SGD", dict(weight_decay=-1)),
    ("SGD", dict(nesterov=True)), ("SGD", dict(momentum=0.9, dampening=0.1, nesterov=True)),
    ("Adam", dict(lr=-1)), ("Adam", dict(eps=-1)), ("Adam", dict(betas=(1.0, 0.9))),
    ("Adam", dict(betas=(0.9, -0.5))), ("Adam", dict(weight_decay=-1)),
    ("AdamW", dict(lr=-0.5)), ("RMSprop", dict(alpha=-1)), ("RMSprop", dict(momentum=-1)),
    ("RMSprop", dict(eps=-1)), ("Adagrad", dict(lr_decay=-1)),
    ("Adagrad", dict(initial_accumulator_value=-1)), ("Adagrad", dict(eps=-1)),
    ("Adadelta", dict(rho=1.5)), ("Adadelta", dict(weight_decay=-1)),
]


@pytest.mark.parametrize("name,kwargs", ERRORS, ids=[f"{n}-{k}" for n, k in ERRORS])
def test_invalid_hyperparameters_raise_like_torch(backend, name, kwargs):
    tl_cls, th_cls = classes(name)
    with pytest.raises(ValueError) as expected:
        th_cls([torch.zeros(2, requires_grad=True)], **kwargs)
    with pytest.raises(ValueError, match=re.escape(str(expected.value))):
        tl_cls([tl.zeros(2, device=backend.device, requires_grad=True)], **kwargs)


def test_invalid_params(backend):
    p = tl.zeros(2, device=backend.device, requires_grad=True)
    with pytest.raises(TypeError, match="iterable of Tensors"):
        optim.SGD(p)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([])
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([p * 2])
    with pytest.raises(TypeError, match="can only optimize tensorlite Tensors.*ndarray"):
        optim.SGD([np.zeros(2)])
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": [p]}, {"params": [p]}])
    with pytest.raises(TypeError, match="sets"):
        optim.SGD([{"params": {p}}])
    with pytest.raises(ValueError, match="required optimization parameter lr"):
        optim.Optimizer([p], dict(lr=optim.required))
    opt = optim.SGD([p])
    with pytest.raises(RuntimeError, match=r"gradient of size '\[3\]' to a tensor of size '\[2\]'"):
        p.grad = tl.zeros(3, device=backend.device)
    p._grad = tl.zeros(3, device=backend.device)  # past the setter's check, as a bug could
    with pytest.raises(RuntimeError, match=r"gradient \(float32\[3\].*parameter \(float32\[2\]"):
        opt.step()


# ----------------------------------------------------------------------------- clipping
def _clip_setup(rng, backend, scale=1.0):
    values = make_values(rng)
    grads = [g * scale if g is not None else None for g in make_grads(rng, steps=4)[3]]
    ours, theirs = tl_params(values, backend.device), th_params(values)
    feed(ours, grads, tl, backend.device)
    feed(theirs, grads, torch)
    return ours, theirs


@pytest.mark.parametrize("norm_type", [2.0, 1, 3.5, math.inf, "inf", -math.inf, 0])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_grad_norm_matches_torch(backend, rng, norm_type, max_norm):
    ours, theirs = _clip_setup(rng, backend)
    total = tl.nn.utils.clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    assert isinstance(total, tl.Tensor) and total.shape == () and total.dtype == tl.float64
    np.testing.assert_allclose(to_np(total), to_np(expected), rtol=RTOL)
    assert ours[1].grad is None
    assert_params_equal([p.grad for p in ours if p.grad is not None],
                        [p.grad for p in theirs if p.grad is not None], what="clipped grads")


def test_clip_grad_norm_single_tensor_and_empty(backend, rng):
    ours, theirs = _clip_setup(rng, backend)
    total = tl.nn.utils.clip_grad_norm_(ours[0], 0.1)
    expected = torch.nn.utils.clip_grad_norm_(theirs[0], 0.1)
    np.testing.assert_allclose(to_np(total), to_np(expected), rtol=RTOL)
    np.testing.assert_allclose(to_np(ours[0].grad), to_np(theirs[0].grad), rtol=RTOL)
    assert float(tl.nn.utils.clip_grad_norm_([], 1.0)) == 0.0
    assert float(tl.nn.utils.clip_grad_norm_([ours[1]], 1.0)) == 0.0  # no grad at all


def test_clip_grad_norm_nonfinite(backend, rng):
    ours, theirs = _clip_setup(rng, backend)
    for ps, lib in ((ours, tl), (theirs, torch)):
        g = ps[0].grad
        g[0, 1] = math.inf
    with pytest.raises(RuntimeError, match="non-finite"):
        tl.nn.utils.clip_grad_norm_(ours, 1.0, error_if_nonfinite=True)
    np.testing.assert_array_equal(np.isinf(to_np(ours[0].grad)), np.isinf(to_np(theirs[0].grad)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        total = tl.nn.utils.clip_grad_norm_(ours, 1.0)
        expected = torch.nn.utils.clip_grad_norm_(theirs, 1.0)
    assert math.isinf(float(total)) and math.isinf(float(expected))
    for a, b in zip(ours, theirs):
        if b.grad is not None:
            np.testing.assert_array_equal(to_np(a.grad), to_np(b.grad))  # nan and 0 alike


@pytest.mark.parametrize("clip_value", [0.3, 5.0])
def test_clip_grad_value_matches_torch(backend, rng, clip_value):
    ours, theirs = _clip_setup(rng, backend, scale=2.0)
    before = [p.grad._version[0] for p in ours if p.grad is not None]
    assert tl.nn.utils.clip_grad_value_(ours, clip_value) is None
    torch.nn.utils.clip_grad_value_(theirs, clip_value)
    assert_params_equal([p.grad for p in ours if p.grad is not None],
                        [p.grad for p in theirs if p.grad is not None], rtol=0, atol=0)
    after = [p.grad._version[0] for p in ours if p.grad is not None]
    assert all(a > b for a, b in zip(after, before))


# ----------------------------------------------------------------------------- end to end
def test_two_layer_model_adam_steplr_matches_torch(backend, rng):
    x = rng.standard_normal((16, 5))
    y = rng.standard_normal((16, 3))
    w1, w2 = rng.standard_normal((5, 8)) * 0.5, rng.standard_normal((8, 3)) * 0.5
    runs = []
    for lib, lib_optim in ((tl, optim), (torch, torch.optim)):
        if lib is tl:
            X, Y = tl.tensor(x, device=backend.device), tl.tensor(y, device=backend.device)
            W1, W2 = tl_params([w1, w2], backend.device)
        else:
            X, Y = torch.tensor(x), torch.tensor(y)
            W1, W2 = th_params([w1, w2])
        opt = lib_optim.Adam([W1, W2], lr=0.05)
        sched = lib_optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)
        losses = []
        for _ in range(10):
            opt.zero_grad()
            loss = ((((X @ W1).relu() @ W2) - Y) ** 2).mean()
            loss.backward()
            opt.step()
            sched.step()
            losses.append(float(loss.detach()))
        runs.append((losses, [W1, W2], sched.get_last_lr()))
    (l_ours, p_ours, lr_ours), (l_theirs, p_theirs, lr_theirs) = runs
    np.testing.assert_allclose(l_ours, l_theirs, rtol=1e-8)
    assert_params_equal(p_ours, p_theirs, rtol=1e-8, atol=1e-10, what="mlp")
    assert lr_ours == lr_theirs == [0.05 * 0.5 ** 3]
    assert l_ours[-1] < l_ours[0]
