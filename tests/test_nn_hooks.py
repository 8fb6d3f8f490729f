"""Module hooks against torch.nn.Module's: forward pre-hooks, forward hooks, full backward
(pre-)hooks, per module and global, with their order, arguments, return values and handles.

Each scenario is written once as ``fn(lib)`` over tensorlite or torch; it returns a log of
what the hooks saw (tensors as NumPy arrays) and the results, and the two logs must agree.
"""
import warnings

import numpy as np
import pytest
import torch

import tensorlite as tl
from helpers import to_np

W = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.5]])
B = np.array([0.1, -0.2])
X = np.array([[1.0, 2.0, -3.0], [0.5, -1.5, 2.5]])


def tensor(lib, arr, requires_grad=False):
    if lib is tl:
        return tl.tensor(arr, device=tl.get_backend().device, requires_grad=requires_grad)
    return torch.tensor(arr, requires_grad=requires_grad)


def linear(lib):
    m = lib.nn.Linear(3, 2).double()
    m.load_state_dict({"weight": tensor(lib, W), "bias": tensor(lib, B)})
    return m


def globals_of(lib):
    """torch.nn.modules.module, or tensorlite's module of the same name."""
    return lib.nn.modules.module


def summary(x):
    """What a hook saw, comparable across the two libraries."""
    if isinstance(x, (tl.Tensor, torch.Tensor)):
        return ("tensor", to_np(x).round(12).tolist())
    if isinstance(x, (tuple, list)):
        return type(x)(summary(v) for v in x)
    if isinstance(x, dict):
        return {k: summary(v) for k, v in x.items()}
    if isinstance(x, (tl.nn.Module, torch.nn.Module)):
        return ("module", type(x).__name__)
    return x


def both(scenario):
    """Run ``scenario(lib)`` on both libraries; its two results (summarized) must be equal."""
    got, expected = summary(scenario(tl)), summary(scenario(torch))
    assert got == expected
    return got


# ----------------------------------------------------------------------------- forward hooks
def test_forward_hooks_order_and_arguments(backend):
    def scenario(lib):
        log = []
        m = linear(lib)
        m.register_forward_pre_hook(lambda mod, args: log.append(("pre", mod, args)))
        m.register_forward_pre_hook(lambda mod, args: log.append(("pre first", args)),
                                    prepend=True)
        m.register_forward_pre_hook(lambda mod, args, kwargs: log.append(("pre kw", args, kwargs)),
                                    with_kwargs=True)
        m.register_forward_hook(lambda mod, args, out: log.append(("fwd", mod, args, out)))
        m.register_forward_hook(lambda mod, args, kwargs, out: log.append(("fwd kw first", args,
                                                                           kwargs, out)),
                                with_kwargs=True, prepend=True)
        handle = globals_of(lib).register_module_forward_hook(
            lambda mod, args, out: log.append(("global fwd", mod)))
        pre = globals_of(lib).register_module_forward_pre_hook(
            lambda mod, args: log.append(("global pre", mod)))
        try:
            y = m(tensor(lib, X))
            log.append(("kwargs call",))
            m(input=tensor(lib, X[:1]))
        finally:
            handle.remove()
            pre.remove()
        return log, y
    log, _ = both(scenario)
    assert [e[0] for e in log[:6]] == ["global pre", "pre first", "pre", "pre kw", "global fwd",
                                       "fwd kw first"]


def test_hooks_replace_inputs_and_outputs(backend):
    def scenario(lib):
        m = linear(lib)
        out = []
        h = m.register_forward_pre_hook(lambda mod, args: args[0] * 2)  # a single value: wrapped
        out.append(m(tensor(lib, X)))
        h.remove()
        h = m.register_forward_pre_hook(lambda mod, args: (args[0] + 1,))
        out.append(m(tensor(lib, X)))
        h.remove()
        h = m.register_forward_pre_hook(
            lambda mod, args, kwargs: ((), {"input": kwargs["input"] - 1}), with_kwargs=True)
        out.append(m(input=tensor(lib, X)))
        h.remove()
        h = m.register_forward_hook(lambda mod, args, y: y.sum())
        out.append(m(tensor(lib, X)))
        h.remove()
        out.append(m(tensor(lib, X)))  # removed: the plain forward again
        return tuple(out)
    both(scenario)


def test_pre_hook_with_kwargs_must_return_a_pair(backend):
    for lib in (tl, torch):
        m = linear(lib)
        m.register_forward_pre_hook(lambda mod, args, kwargs: args, with_kwargs=True)
        with pytest.raises(RuntimeError, match=r"forward pre-hook must return None or a tuple "
                                               r"of \(new_args, new_kwargs\)"):
            m(tensor(lib, X))


class Failing:
    """A module class whose forward raises, in either library."""

    @staticmethod
    def make(lib):
        class Boom(lib.nn.Module):
            def forward(self, x, flag=False):
                raise ValueError("boom")
        return Boom()


def test_always_call_hooks_run_when_forward_raises(backend):
    def scenario(lib):
        log = []
        m = Failing.make(lib)
        m.register_forward_hook(lambda mod, args, out: log.append(("plain", out)))
        m.register_forward_hook(lambda mod, args, out: log.append(("always", args, out)),
                                always_call=True)
        m.register_forward_hook(lambda mod, args, kwargs, out: log.append(("always kw", kwargs)),
                                always_call=True, with_kwargs=True)

        def broken(mod, args, out):
            raise KeyError("hook")
        m.register_forward_hook(broken, always_call=True)
        glob = globals_of(lib).register_module_forward_hook(
            lambda mod, args, out: log.append(("global always", out)), always_call=True)
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                with pytest.raises(ValueError, match="boom"):
                    m(tensor(lib, X), flag=True)
        finally:
            glob.remove()
        log.append([str(w.message).split(":")[0] for w in caught])
        return log
    log = both(scenario)
    assert [e[0] for e in log[:-1]] == ["global always", "always", "always kw"]
    assert log[-1] == ["module forward hook with ``always_call=True`` raised an exception that "
                       "was silenced as another error was raised in forward"]


def test_handles_remove_every_trace(backend):
    m = linear(tl)
    calls = []
    with m.register_forward_hook(lambda *a: calls.append(1), with_kwargs=True,
                                 always_call=True) as h:
        m(tensor(tl, X), )
    assert not m._forward_hooks and not m._forward_hooks_with_kwargs
    assert not m._forward_hooks_always_called
    h.remove()  # twice is harmless, as torch
    m(tensor(tl, X))
    assert calls == [1]
    pre = m.register_forward_pre_hook(lambda *a: None, with_kwargs=True)
    pre.remove()
    assert not m._forward_pre_hooks and not m._forward_pre_hooks_with_kwargs


# ----------------------------------------------------------------------------- backward hooks
def mix(lib):
    """A module of several inputs (a tensor needing grad, an int, a tensor that does not) and
    outputs (a used tensor, an unused one, a string)."""
    class Mix(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = lib.nn.Parameter(tensor(lib, np.array([1.0, 2.0, 3.0])))

        def forward(self, x, k, y, scale=1.0):
            return x * self.w + y * scale * k, x * 2.0, "tag"
    return Mix()


def test_full_backward_hooks_see_torchs_gradients(backend):
    def scenario(lib):
        log = []
        m = mix(lib)
        m.register_full_backward_pre_hook(lambda mod, go: log.append(("pre", mod, go)))
        m.register_full_backward_hook(lambda mod, gi, go: log.append(("full", mod, gi, go)))
        m.register_full_backward_hook(lambda mod, gi, go: log.append(("full first", gi)),
                                      prepend=True)
        x = tensor(lib, np.array([1.0, -2.0, 0.5]), requires_grad=True)
        y = tensor(lib, np.array([3.0, 4.0, 5.0]))
        out = m(x, 2, y, scale=0.5)
        log.append(("forward done", out))
        (out[0] * tensor(lib, np.array([1.0, 10.0, 100.0]))).sum().backward()
        return log, x.grad, m.w.grad
    log, _, _ = both(scenario)
    assert [e[0] for e in log] == ["forward done", "pre", "full first", "full"]


def test_backward_hooks_replace_gradients(backend):
    def scenario(lib):
        m = mix(lib)
        m.register_full_backward_pre_hook(lambda mod, go: (go[0] * 0.5,) + go[1:])
        m.register_full_backward_hook(lambda mod, gi, go: (gi[0] * 3,) + gi[1:])
        seen = []
        m.register_full_backward_hook(lambda mod, gi, go: seen.append((gi, go)))
        x = tensor(lib, np.array([1.0, -2.0, 0.5]), requires_grad=True)
        out = m(x, 2, tensor(lib, np.ones(3)))
        out[0].sum().backward()
        return x.grad, m.w.grad, seen
    both(scenario)


def test_backward_hooks_in_a_sequential(backend):
    """On a Sequential and on its (otherwise fused) Linear, with global hooks first."""
    def scenario(lib):
        log = []
        inner = linear(lib)
        model = lib.nn.Sequential(inner, lib.nn.ReLU(), lib.nn.Linear(2, 1).double())
        model[2].load_state_dict({"weight": tensor(lib, np.array([[1.0, -2.0]])),
                                  "bias": tensor(lib, np.array([0.5]))})
        model.register_full_backward_hook(lambda mod, gi, go: log.append(("seq", gi, go)))
        inner.register_full_backward_hook(lambda mod, gi, go: log.append(("inner", gi, go)))
        inner.register_full_backward_pre_hook(lambda mod, go: log.append(("inner pre", go)))
        glob = globals_of(lib).register_module_full_backward_hook(
            lambda mod, gi, go: log.append(("global", mod)))
        glob_pre = globals_of(lib).register_module_full_backward_pre_hook(
            lambda mod, go: log.append(("global pre", mod)))
        try:
            x = tensor(lib, X, requires_grad=True)
            model(x).sum().backward()
        finally:
            glob.remove()
            glob_pre.remove()
        return log, x.grad, inner.weight.grad
    both(scenario)


def test_backward_hook_wrong_length_raises(backend):
    for lib in (tl, torch):
        m = mix(lib)
        m.register_full_backward_hook(lambda mod, gi, go: gi[:1])
        out = m(tensor(lib, np.ones(3), requires_grad=True), 1, tensor(lib, np.ones(3)))
        with pytest.raises(RuntimeError, match="Backward hook returned an invalid number of "
                                               "grad_input, got 1, but expected 3"):
            out[0].sum().backward()
        m = mix(lib)
        m.register_full_backward_pre_hook(lambda mod, go: go[:2])
        out = m(tensor(lib, np.ones(3), requires_grad=True), 1, tensor(lib, np.ones(3)))
        with pytest.raises(RuntimeError, match="Backward pre hook returned an invalid number of "
                                               "grad_output, got 2, but expected 3"):
            out[0].sum().backward()


def test_backward_hook_when_no_input_requires_grad(backend):
    def scenario(lib):
        log = []
        m = linear(lib)
        m.register_full_backward_hook(lambda mod, gi, go: log.append((gi, go)))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            m(tensor(lib, X)).sum().backward()
        log.append(any("Full backward hook is firing" in str(w.message) for w in caught))
        return log, m.weight.grad
    assert both(scenario)[0][-1] is True
    for lib in (tl, torch):
        m = linear(lib)
        m.register_full_backward_hook(lambda mod, gi, go: (tensor(lib, X),))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pytest.raises(RuntimeError, match="no input requires gradient should always "
                                                   "return None"):
                m(tensor(lib, X)).sum().backward()


def test_backward_hooks_fire_on_each_backward_and_not_under_no_grad(backend):
    def scenario(lib):
        log = []
        m = linear(lib)
        m.register_full_backward_hook(lambda mod, gi, go: log.append(gi))
        x = tensor(lib, X, requires_grad=True)
        y = m(x).sum()
        y.backward(retain_graph=True)
        y.backward()
        with lib.no_grad():
            m(x)
        return log, x.grad
    log, _ = both(scenario)
    assert len(log) == 2


def test_gradients_of_gradients_through_a_hooked_module(backend):
    def scenario(lib):
        m = linear(lib)
        m.register_full_backward_hook(lambda mod, gi, go: None)
        m.register_forward_hook(lambda mod, args, out: out.tanh())
        x = tensor(lib, X, requires_grad=True)
        (g,) = lib.autograd.grad(m(x).sum(), x, create_graph=True)
        (g * g).sum().backward()
        return g, x.grad, m.weight.grad
    both(scenario)


# ----------------------------------------------------------------------------- no hooks: no cost
def test_a_module_without_hooks_calls_forward_directly(backend):
    m = linear(tl)
    assert m._calls_forward_only()
    h = m.register_forward_hook(lambda *a: None)
    assert not m._calls_forward_only()
    h.remove()
    g = tl.nn.modules.module.register_module_full_backward_pre_hook(lambda *a: None)
    try:
        assert not m._calls_forward_only()
    finally:
        g.remove()
    assert m._calls_forward_only()
    y = m(tensor(tl, X, requires_grad=True))
    assert y.grad_fn.name == "linear", "no identity nodes without backward hooks"


def test_old_pickles_get_empty_hook_tables():
    m = tl.nn.Linear(2, 2)
    state = {k: v for k, v in m.__dict__.items() if "hooks" not in k}
    fresh = tl.nn.Linear.__new__(tl.nn.Linear)
    fresh.__setstate__(state)
    x = tl.ones(1, 2)
    np.testing.assert_array_equal(to_np(fresh(x)), to_np(m(x)))
    fresh.register_forward_hook(lambda *a: None).remove()
