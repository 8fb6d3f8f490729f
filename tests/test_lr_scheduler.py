"""tensorlite.optim.lr_scheduler against torch.optim.lr_scheduler: the same lr sequences.

Each scheduler drives an SGD with two param groups (different base lrs) next to its torch
twin for ~30 epochs; the lrs must be identical floats (the recursive formulas are the same
Python arithmetic, so no tolerance is needed).
"""
import math
import warnings

import numpy as np
import pytest
import torch

import tensorlite as tl
from tensorlite import optim
from tensorlite.optim import lr_scheduler

EPOCHS = 30


def make_optimizers(device, lrs=(0.1, 0.05), cls="SGD"):
    ours = [tl.zeros(3, device=device, requires_grad=True) for _ in lrs]
    theirs = [torch.zeros(3, requires_grad=True) for _ in lrs]
    kw = dict(momentum=0.9) if cls == "SGD" else {}
    tl_opt = getattr(optim, cls)([{"params": [p], "lr": lr} for p, lr in zip(ours, lrs)], **kw)
    th_opt = getattr(torch.optim, cls)([{"params": [p], "lr": lr} for p, lr in zip(theirs, lrs)],
                                       **kw)
    return tl_opt, th_opt


def lrs_of(opt):
    return [g["lr"] for g in opt.param_groups]


SCHEDULERS = [
    ("StepLR", dict(step_size=3)),
    ("StepLR", dict(step_size=7, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[5, 12, 12, 20])),
    ("MultiStepLR", dict(milestones=[3, 9], gamma=0.3)),
    ("ExponentialLR", dict(gamma=0.9)),
    ("CosineAnnealingLR", dict(T_max=10, eta_min=0.001)),  # passes the restart branch twice
    ("CosineAnnealingLR", dict(T_max=7)),
    ("LinearLR", dict()),
    ("LinearLR", dict(start_factor=0.25, end_factor=0.75, total_iters=8)),
    ("LinearLR", dict(start_factor=1.0, end_factor=0.1, total_iters=12)),
]
IDS = [f"{n}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'defaults'}" for n, kw in SCHEDULERS]


def build(name, kwargs, device, last_epoch=None):
    tl_opt, th_opt = make_optimizers(device)
    extra = {} if last_epoch is None else dict(last_epoch=last_epoch)
    return (getattr(lr_scheduler, name)(tl_opt, **kwargs, **extra),
            getattr(torch.optim.lr_scheduler, name)(th_opt, **kwargs, **extra))


@pytest.mark.parametrize("name,kwargs", SCHEDULERS, ids=IDS)
def test_lr_sequence_matches_torch(backend, name, kwargs):
    ours, theirs = build(name, kwargs, backend.device)
    assert ours.get_last_lr() == theirs.get_last_lr()
    assert ours.base_lrs == theirs.base_lrs == [0.1, 0.05]
    for group in ours.optimizer.param_groups:
        assert "initial_lr" in group
    seen = set()
    for epoch in range(EPOCHS):
        for s in (ours, theirs):
            s.optimizer.step()
            s.step()
        assert ours.last_epoch == theirs.last_epoch == epoch + 1
        assert ours.get_last_lr() == theirs.get_last_lr(), epoch
        assert lrs_of(ours.optimizer) == lrs_of(theirs.optimizer), epoch
        seen.add(tuple(ours.get_last_lr()))
    assert len(seen) > 2  # the schedule really changed the lr
    assert [g["initial_lr"] for g in ours.optimizer.param_groups] == [0.1, 0.05]


@pytest.mark.parametrize("name,kwargs", SCHEDULERS, ids=IDS)
def test_state_dict_round_trip(backend, name, kwargs):
    """Save optimizer + scheduler after 10 epochs, rebuild both, load, continue: identical."""
    straight, _ = build(name, kwargs, backend.device)
    first, _ = build(name, kwargs, backend.device)
    for epoch in range(EPOCHS):
        straight.optimizer.step()
        straight.step()
        if epoch < 10:
            first.optimizer.step()
            first.step()
    opt_state, sched_state = first.optimizer.state_dict(), first.state_dict()
    assert "optimizer" not in sched_state and sched_state["last_epoch"] == 10
    opt, _ = make_optimizers(backend.device, lrs=(7.0, 7.0))
    resumed = getattr(lr_scheduler, name)(opt, **kwargs)  # scheduler first, as torch advises
    opt.load_state_dict(opt_state)
    resumed.load_state_dict(sched_state)
    for _ in range(EPOCHS - 10):
        opt.step()
        resumed.step()
    assert resumed.get_last_lr() == straight.get_last_lr()
    assert lrs_of(opt) == lrs_of(straight.optimizer)
    assert resumed.last_epoch == straight.last_epoch == EPOCHS


@pytest.mark.parametrize("name,kwargs", [c for c in SCHEDULERS if c[0] != "LinearLR"][::2])
def test_explicit_epoch_uses_closed_form_like_torch(backend, name, kwargs):
    ours, theirs = build(name, kwargs, backend.device)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for epoch in (1, 2, 5, 4, 11, 25, 3):
            for s in (ours, theirs):
                s.optimizer.step()
                s.step(epoch)
            assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-15)


def test_resume_with_last_epoch(backend):
    tl_opt, th_opt = make_optimizers(backend.device)
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.StepLR(tl_opt, step_size=3, last_epoch=4)
    for opt in (tl_opt, th_opt):
        for g in opt.param_groups:
            g["initial_lr"] = g["lr"] * 2
    ours = lr_scheduler.CosineAnnealingLR(tl_opt, T_max=9, last_epoch=4)
    theirs = torch.optim.lr_scheduler.CosineAnnealingLR(th_opt, T_max=9, last_epoch=4)
    for _ in range(8):
        tl_opt.step()
        th_opt.step()
        ours.step()
        theirs.step()
        assert ours.get_last_lr() == theirs.get_last_lr()


def test_warns_when_stepped_before_optimizer(backend):
    tl_opt, _ = make_optimizers(backend.device)
    sched = lr_scheduler.StepLR(tl_opt, step_size=2)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        sched.step()
    tl_opt2, _ = make_optimizers(backend.device)
    sched2 = lr_scheduler.ExponentialLR(tl_opt2, gamma=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tl_opt2.step()
        sched2.step()
    assert sched2.get_last_lr() == [0.05, 0.025]


def test_scheduler_argument_errors(backend):
    tl_opt, th_opt = make_optimizers(backend.device)
    for name, kwargs in [("LinearLR", dict(start_factor=0)), ("LinearLR", dict(end_factor=2)),
                         ("ReduceLROnPlateau", dict(factor=1.0)),
                         ("ReduceLROnPlateau", dict(mode="median")),
                         ("ReduceLROnPlateau", dict(threshold_mode="pct")),
                         ("ReduceLROnPlateau", dict(min_lr=[0.1]))]:
        with pytest.raises(ValueError) as expected:
            getattr(torch.optim.lr_scheduler, name)(th_opt, **kwargs)
        with pytest.raises(ValueError, match=str(expected.value).replace("[", r"\[")[:40]):
            getattr(lr_scheduler, name)(tl_opt, **kwargs)
    with pytest.raises(TypeError, match="is not an Optimizer"):
        lr_scheduler.StepLR(th_opt, step_size=2)


# ----------------------------------------------------------------------------- ReduceLROnPlateau
def _metrics(rng):
    """Improves for 6 epochs, plateaus with noise, improves briefly, plateaus again."""
    down = list(np.linspace(1.0, 0.5, 6))
    flat = list(0.5 + 0.01 * rng.standard_normal(10))
    down2 = list(np.linspace(0.45, 0.3, 3))
    flat2 = list(0.3 + 0.005 * np.abs(rng.standard_normal(11)))
    return [float(m) for m in down + flat + down2 + flat2]


PLATEAU = [
    dict(),
    dict(patience=2),
    dict(patience=1, factor=0.5, cooldown=2),
    dict(patience=0, factor=0.5, threshold=0.02, threshold_mode="abs"),
    dict(mode="max", patience=2, factor=0.3),
    dict(mode="max", patience=1, threshold_mode="abs", threshold=0.001, cooldown=1),
    dict(patience=0, factor=0.2, min_lr=[0.004, 0.003]),
    dict(patience=0, factor=0.5, min_lr=0.01, eps=0.005),
]


@pytest.mark.parametrize("kwargs", PLATEAU, ids=[str(k) for k in PLATEAU])
def test_reduce_lr_on_plateau_matches_torch(backend, rng, kwargs):
    metrics = _metrics(rng)
    tl_opt, th_opt = make_optimizers(backend.device)
    ours = lr_scheduler.ReduceLROnPlateau(tl_opt, **kwargs)
    theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(th_opt, **kwargs)
    assert ours.get_last_lr() == theirs.get_last_lr()
    changes = 0
    for epoch, m in enumerate(metrics):
        before = lrs_of(tl_opt)
        tl_opt.step()
        th_opt.step()
        ours.step(tl.tensor(m, dtype=tl.float64) if epoch % 2 else m)
        theirs.step(m)
        changes += lrs_of(tl_opt) != before
        assert lrs_of(tl_opt) == lrs_of(th_opt), epoch
        assert ours.get_last_lr() == theirs.get_last_lr(), epoch
        for attr in ("best", "num_bad_epochs", "cooldown_counter", "last_epoch"):
            assert getattr(ours, attr) == getattr(theirs, attr), (epoch, attr)
    if kwargs:  # default patience (10) is barely reached; every other config must reduce
        assert changes >= 1


def test_reduce_lr_on_plateau_state_dict(backend, rng):
    metrics = _metrics(rng)
    kwargs = dict(patience=1, factor=0.5, cooldown=1)
    straight = lr_scheduler.ReduceLROnPlateau(make_optimizers(backend.device)[0], **kwargs)
    for m in metrics:
        straight.step(m)
    opt = make_optimizers(backend.device)[0]
    first = lr_scheduler.ReduceLROnPlateau(opt, **kwargs)
    for m in metrics[:12]:
        first.step(m)
    saved_opt, saved = opt.state_dict(), first.state_dict()
    opt2 = make_optimizers(backend.device, lrs=(1.0, 1.0))[0]
    resumed = lr_scheduler.ReduceLROnPlateau(opt2, mode="max")  # the checkpoint's mode wins
    opt2.load_state_dict(saved_opt)
    resumed.load_state_dict(saved)
    for m in metrics[12:]:
        resumed.step(m)
    assert resumed.get_last_lr() == straight.get_last_lr()
    assert resumed.best == straight.best and resumed.mode == "min"
    assert not math.isinf(resumed.best)


def test_scheduler_drives_other_optimizers(backend, rng):
    """Schedulers only touch group['lr']: an Adam under CosineAnnealingLR matches torch."""
    values = rng.standard_normal((4, 3))
    grads = rng.standard_normal((12, 4, 3))
    p_tl = tl.tensor(values.copy(), device=backend.device, requires_grad=True)
    p_th = torch.tensor(values.copy(), requires_grad=True)
    o_tl, o_th = optim.Adam([p_tl], lr=0.1), torch.optim.Adam([p_th], lr=0.1)
    s_tl = lr_scheduler.CosineAnnealingLR(o_tl, T_max=5)
    s_th = torch.optim.lr_scheduler.CosineAnnealingLR(o_th, T_max=5)
    for g in grads:
        p_tl.grad, p_th.grad = tl.tensor(g, device=backend.device), torch.tensor(g)
        o_tl.step()
        o_th.step()
        s_tl.step()
        s_th.step()
    np.testing.assert_allclose(np.asarray(p_tl.detach()), p_th.detach().numpy(), rtol=1e-10)
