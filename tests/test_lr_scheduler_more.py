"""The schedules added for issue 13 (LambdaLR, MultiplicativeLR, ConstantLR, PolynomialLR,
OneCycleLR, CyclicLR, CosineAnnealingWarmRestarts, SequentialLR, ChainedScheduler, SWALR)
against torch.optim.lr_scheduler: identical lr (and momentum / beta1) sequences over 60
epochs, and a state_dict save at epoch 25 resumed into a fresh optimizer and scheduler that
continues identically to the uninterrupted torch run.

The recursive formulas are the same Python float arithmetic as torch's, so the lrs are
compared with ``==`` (no tolerance).
"""
import copy
import warnings

import pytest
import torch

import tensorlite as tl
from tensorlite import optim
from tensorlite.optim import lr_scheduler, swa_utils

EPOCHS, RESUME_AT = 60, 25


class Scale:
    """A callable object: its __dict__ travels in LambdaLR's state_dict (a lambda does not)."""

    def __init__(self, rate):
        self.rate = rate

    def __call__(self, epoch):
        return self.rate ** epoch


def warmup(epoch):
    return min(1.0, (epoch + 1) / 10) * 0.97 ** epoch


# name -> (kwargs builder given the library's lr_scheduler module and optimizer, optimizer cls)
def _seq(L, opt):
    return dict(schedulers=[L.LinearLR(opt, start_factor=0.1, total_iters=5),
                            L.CosineAnnealingLR(opt, T_max=20),
                            L.ExponentialLR(opt, gamma=0.9)],
                milestones=[5, 30])


def _seq2(L, opt):
    return dict(schedulers=[L.ConstantLR(opt, factor=0.5, total_iters=4),
                            L.StepLR(opt, step_size=7, gamma=0.5)], milestones=[10])


def _chain(L, opt):
    return dict(schedulers=[L.ConstantLR(opt, factor=0.1, total_iters=8),
                            L.ExponentialLR(opt, gamma=0.95)])


def _chain2(L, opt):
    return dict(schedulers=[L.LinearLR(opt, start_factor=0.2, total_iters=10),
                            L.MultiStepLR(opt, milestones=[15, 40], gamma=0.3),
                            L.CosineAnnealingWarmRestarts(opt, T_0=12)])


CASES = [
    ("LambdaLR", lambda L, o: dict(lr_lambda=warmup), "SGD"),
    ("LambdaLR", lambda L, o: dict(lr_lambda=[Scale(0.95), Scale(0.9)]), "SGD"),
    ("MultiplicativeLR", lambda L, o: dict(lr_lambda=lambda e: 0.95), "SGD"),
    ("MultiplicativeLR", lambda L, o: dict(lr_lambda=[lambda e: 0.9 + 0.001 * e,
                                                      Scale(0.999)]), "SGD"),
    ("ConstantLR", lambda L, o: dict(), "SGD"),
    ("ConstantLR", lambda L, o: dict(factor=0.25, total_iters=12), "SGD"),
    ("PolynomialLR", lambda L, o: dict(), "SGD"),
    ("PolynomialLR", lambda L, o: dict(total_iters=40, power=2.0), "SGD"),
    ("PolynomialLR", lambda L, o: dict(total_iters=30, power=0.5), "SGD"),
    ("OneCycleLR", lambda L, o: dict(max_lr=0.5, total_steps=EPOCHS + 1), "SGD"),
    ("OneCycleLR", lambda L, o: dict(max_lr=[0.5, 0.2], epochs=7, steps_per_epoch=9,
                                     anneal_strategy="linear", three_phase=True), "SGD"),
    ("OneCycleLR", lambda L, o: dict(max_lr=0.01, total_steps=80, pct_start=0.25,
                                     div_factor=10.0, final_div_factor=100.0), "Adam"),
    ("OneCycleLR", lambda L, o: dict(max_lr=0.3, total_steps=70, cycle_momentum=False),
     "Adagrad"),
    ("CyclicLR", lambda L, o: dict(base_lr=0.01, max_lr=0.1, step_size_up=7), "SGD"),
    ("CyclicLR", lambda L, o: dict(base_lr=[0.01, 0.02], max_lr=[0.1, 0.3], step_size_up=5,
                                   step_size_down=9, mode="triangular2"), "SGD"),
    ("CyclicLR", lambda L, o: dict(base_lr=0.001, max_lr=0.01, step_size_up=6,
                                   mode="exp_range", gamma=0.97), "Adam"),
    ("CyclicLR", lambda L, o: dict(base_lr=0.01, max_lr=0.1, step_size_up=4,
                                   scale_fn=Scale(0.9), scale_mode="iterations",
                                   cycle_momentum=False), "SGD"),
    ("CosineAnnealingWarmRestarts", lambda L, o: dict(T_0=10), "SGD"),
    ("CosineAnnealingWarmRestarts", lambda L, o: dict(T_0=3, T_mult=2, eta_min=0.001), "SGD"),
    ("SequentialLR", _seq, "SGD"),
    ("SequentialLR", _seq2, "SGD"),
    ("ChainedScheduler", _chain, "SGD"),
    ("ChainedScheduler", _chain2, "SGD"),
]
IDS = [f"{name}-{i}" for i, (name, _, _) in enumerate(CASES)]


def make_optimizer(lib, cls, device=None, lrs=(0.1, 0.05)):
    kw = dict(device=device) if lib is tl else {}
    params = [lib.zeros(3, requires_grad=True, **kw) for _ in lrs]
    mod = optim if lib is tl else torch.optim
    extra = dict(momentum=0.9) if cls == "SGD" else {}
    return getattr(mod, cls)([{"params": [p], "lr": lr} for p, lr in zip(params, lrs)],
                             **extra)


def build(lib, name, make_kwargs, cls, device=None):
    L = lr_scheduler if lib is tl else torch.optim.lr_scheduler
    opt = make_optimizer(lib, cls, device)
    kwargs = make_kwargs(L, opt)
    if name == "ChainedScheduler":
        return opt, L.ChainedScheduler(**kwargs)
    return opt, getattr(L, name)(opt, **kwargs)


def snapshot(opt, sched):
    """What the schedule controls: each group's lr and momentum / beta1, and get_last_lr()."""
    groups = [(g["lr"], g.get("momentum"), g.get("betas", (None,))[0])
              for g in opt.param_groups]
    return groups, list(sched.get_last_lr())


def advance(opt, sched, n):
    seen = []
    for _ in range(n):
        opt.step()
        sched.step()
        seen.append(snapshot(opt, sched))
    return seen


@pytest.mark.parametrize("name,make_kwargs,cls", CASES, ids=IDS)
def test_sequence_and_resume_match_torch(backend, name, make_kwargs, cls):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's "step before optimizer.step" etc.
        th_opt, th_sched = build(torch, name, make_kwargs, cls)
        tl_opt, tl_sched = build(tl, name, make_kwargs, cls, backend.device)
        assert snapshot(tl_opt, tl_sched) == snapshot(th_opt, th_sched)
        theirs = advance(th_opt, th_sched, EPOCHS)
        ours = advance(tl_opt, tl_sched, RESUME_AT)
        assert ours == theirs[:RESUME_AT]
        lrs_vary = {lr for (groups, _) in theirs for lr, _, _ in groups}
        assert len(lrs_vary) > 3, "the schedule really moved"

        # save at RESUME_AT; resume into a fresh optimizer and scheduler (built as a program
        # rebuilds them, then both states loaded)
        opt_state = copy.deepcopy(tl_opt.state_dict())
        sched_state = copy.deepcopy(tl_sched.state_dict())
        opt2, sched2 = build(tl, name, make_kwargs, cls, backend.device)
        opt2.load_state_dict(opt_state)
        sched2.load_state_dict(sched_state)
        assert sched2.get_last_lr() == theirs[RESUME_AT - 1][1]
        resumed = advance(opt2, sched2, EPOCHS - RESUME_AT)
        continued = advance(tl_opt, tl_sched, EPOCHS - RESUME_AT)
    assert resumed == theirs[RESUME_AT:]
    assert continued == theirs[RESUME_AT:]


def test_state_dict_keys_match_torch(backend):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, make_kwargs, cls in CASES:
            (_, ours), (_, theirs) = (build(tl, name, make_kwargs, cls, backend.device),
                                      build(torch, name, make_kwargs, cls))
            a, b = ours.state_dict(), theirs.state_dict()
            private = {"_get_lr_called_within_step", "_is_initial"}
            assert set(a) - private == set(b) - private, name
            if "lr_lambdas" in b:
                assert a["lr_lambdas"] == b["lr_lambdas"], name  # None for functions


def test_cosine_warm_restarts_with_fractional_epochs(backend):
    """step(epoch) with a float epoch inside a cycle (the per-batch recipe)."""
    opts = [make_optimizer(tl, "SGD", backend.device), make_optimizer(torch, "SGD")]
    scheds = [lr_scheduler.CosineAnnealingWarmRestarts(opts[0], T_0=4, T_mult=2),
              torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(opts[1], T_0=4, T_mult=2)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for k in range(60):
            epoch = k * 0.37
            for s in scheds:
                s.step(epoch)
            assert scheds[0].get_last_lr() == scheds[1].get_last_lr(), epoch
            assert scheds[0].T_i == scheds[1].T_i and scheds[0].T_cur == scheds[1].T_cur
        with pytest.raises(ValueError, match="non-negative epoch"):
            scheds[0].step(-1)


@pytest.mark.parametrize("strategy,anneal_epochs", [("cos", 10), ("linear", 5), ("cos", 0)])
def test_swalr_matches_torch(backend, strategy, anneal_epochs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        opts = [make_optimizer(tl, "SGD", backend.device), make_optimizer(torch, "SGD")]
        ours = swa_utils.SWALR(opts[0], swa_lr=[0.02, 0.01], anneal_epochs=anneal_epochs,
                               anneal_strategy=strategy)
        theirs = torch.optim.swa_utils.SWALR(opts[1], swa_lr=[0.02, 0.01],
                                             anneal_epochs=anneal_epochs,
                                             anneal_strategy=strategy)
        a, b = advance(opts[0], ours, 8), advance(opts[1], theirs, 20)
        assert a == b[:8]
        state = copy.deepcopy(ours.state_dict())
        assert "anneal_func" not in state and state["_anneal_strategy"] == strategy
        opt2 = make_optimizer(tl, "SGD", backend.device)
        sched2 = swa_utils.SWALR(opt2, swa_lr=0.5, anneal_epochs=anneal_epochs,
                                 anneal_strategy=strategy)
        opt2.load_state_dict(opts[0].state_dict())
        sched2.load_state_dict(state)
        assert advance(opt2, sched2, 12) == b[8:]


def test_errors_match_torch(backend):
    opt = make_optimizer(tl, "SGD", backend.device)
    L = lr_scheduler
    with pytest.raises(ValueError, match="Expected 2 lr_lambdas, but got 1"):
        L.LambdaLR(opt, [lambda e: 1.0])
    with pytest.raises(TypeError, match="lr_lambda should be a function"):
        L.MultiplicativeLR(opt, 0.5)
    with pytest.raises(ValueError, match="between 0 and 1"):
        L.ConstantLR(opt, factor=1.5)
    with pytest.raises(ValueError, match="either total_steps OR"):
        L.OneCycleLR(opt, max_lr=0.1)
    with pytest.raises(ValueError, match="max_lr must have the same length"):
        L.OneCycleLR(opt, max_lr=[0.1, 0.2, 0.3], total_steps=10)
    with pytest.raises(ValueError, match="Expected float between 0 and 1 pct_start"):
        L.OneCycleLR(opt, max_lr=0.1, total_steps=10, pct_start=2.0)
    sched = L.OneCycleLR(make_optimizer(tl, "SGD", backend.device), max_lr=0.1, total_steps=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(3):
            sched.step()
        with pytest.raises(ValueError, match="Tried to step 4 times"):
            sched.step()
    with pytest.raises(ValueError, match="mode is invalid"):
        L.CyclicLR(opt, 0.01, 0.1, mode="sawtooth")
    with pytest.raises(ValueError, match="optimizer must support momentum"):
        L.CyclicLR(make_optimizer(tl, "Adagrad", backend.device), 0.01, 0.1)
    with pytest.raises(ValueError, match="positive integer T_0"):
        L.CosineAnnealingWarmRestarts(opt, T_0=0)
    with pytest.raises(ValueError, match="integer T_mult >= 1"):
        L.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=0)
    with pytest.raises(ValueError, match="one more than the number of milestone"):
        L.SequentialLR(opt, [L.ConstantLR(opt), L.ConstantLR(opt)], milestones=[])
    with pytest.raises(ValueError, match="does not support `ReduceLROnPlateau`"):
        L.ChainedScheduler([L.ReduceLROnPlateau(opt)])
    other = make_optimizer(tl, "SGD", backend.device)
    with pytest.raises(ValueError, match="belong to the same optimizer"):
        L.SequentialLR(opt, [L.ConstantLR(opt), L.ConstantLR(other)], milestones=[3])
    with pytest.raises(ValueError, match="anneal_strategy must be one of"):
        swa_utils.SWALR(opt, swa_lr=0.1, anneal_strategy="step")


def test_torch_names_exist():
    for name in ("LambdaLR", "MultiplicativeLR", "ConstantLR", "PolynomialLR", "OneCycleLR",
                 "CyclicLR", "CosineAnnealingWarmRestarts", "SequentialLR", "ChainedScheduler",
                 "StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR", "LinearLR",
                 "ReduceLROnPlateau", "LRScheduler"):
        assert name in lr_scheduler.__all__ and hasattr(lr_scheduler, name)


def test_get_lr_outside_step_warns_like_torch(backend):
    for lib, L in ((tl, lr_scheduler), (torch, torch.optim.lr_scheduler)):
        opt = make_optimizer(lib, "SGD", backend.device if lib is tl else None)
        sched = L.ExponentialLR(opt, gamma=0.5)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            opt.step()
            sched.step()  # inside step: no warning
            with pytest.raises(UserWarning, match="please use `get_last_lr\\(\\)`"):
                sched.get_lr()
        assert sched.get_last_lr() == [0.05, 0.025]
