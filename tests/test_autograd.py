"""The tape: accumulation, graph lifetime, hooks, higher order, grad mode, errors, memory."""
import gc
import threading
import weakref

import numpy as np
import pytest
import torch

import tensorlite as tl
from helpers import assert_close, to_np
from tensorlite.backends.base import REFCOUNTS_KNOWN

TOL = dict(rtol=1e-10, atol=1e-12)


def leaf(values, device, dtype=tl.float64):
    return tl.tensor(np.asarray(values, dtype=np.float64), dtype=dtype, device=device,
                     requires_grad=True)


def pair(rng, *shape):
    """The same float64 leaf in tensorlite and torch."""
    x = rng.standard_normal(shape)
    return (tl.tensor(x, device=tl.get_backend().device, requires_grad=True),
            torch.tensor(x, requires_grad=True))


# ----------------------------------------------------------------------------- accumulation, graph lifetime
def test_grad_accumulates_across_backward_calls(backend):
    x = leaf([1.0, -2.0, 3.0], backend.device)
    for _ in range(2):
        (x * x).backward(tl.ones(3, dtype=tl.float64, device=backend.device))
    np.testing.assert_allclose(to_np(x.grad), 2 * 2 * np.array([1.0, -2.0, 3.0]), **TOL)
    x.grad = None
    (x * 3.0).backward(tl.ones(3, dtype=tl.float64, device=backend.device))
    np.testing.assert_allclose(to_np(x.grad), [3.0, 3.0, 3.0], **TOL)


def _grads_stay_apart(leaves, others):
    """Each leaf's .grad owns its memory: changing it in place changes no other tensor."""
    before = [to_np(t).copy() for t in others]
    for x in leaves:
        x.grad.add_(100.0)
    for t, want in zip(others, before):
        np.testing.assert_array_equal(to_np(t), want)


@pytest.mark.parametrize("case", ["user_gradient", "shared_by_two_leaves", "view_of_gradient",
                                  "kept_by_a_hook", "saved_by_retain_graph"])
def test_grad_never_aliases_another_tensor(backend, case):
    """Gradients the engine made are taken over as .grad without a copy where nothing else
    refers to them; everything else is copied, so in-place updates of .grad stay local."""
    d = backend.device
    x, y = leaf([1.0, -2.0, 3.0], d), leaf([0.5, 0.25, 2.0], d)
    upstream = tl.tensor([1.0, 2.0, 3.0], dtype=tl.float64, device=d)
    kept = []
    if case == "user_gradient":  # a leaf is the output: its gradient is the user's tensor
        x.backward(upstream)
        leaves, others = [x], [upstream]
    elif case == "shared_by_two_leaves":  # add's backward hands the same gradient to both
        (x + y).backward(upstream)
        leaves, others = [x], [y.grad, upstream]
    elif case == "view_of_gradient":
        x.reshape(3, 1).backward(upstream.reshape(3, 1))
        leaves, others = [x], [upstream]
    elif case == "kept_by_a_hook":
        x.register_hook(kept.append)
        (x * y).sum().backward()
        leaves, others = [x], kept
    else:  # retain_graph: the backward's own result must stay as it was for the next backward
        z = (x * 2.0).sum()
        z.backward(retain_graph=True)
        leaves, others = [x], []
        x.grad.add_(100.0)
        x.grad = None
        z.backward()
        np.testing.assert_array_equal(to_np(x.grad), [2.0, 2.0, 2.0])
    _grads_stay_apart(leaves, others)


def test_engine_gradient_becomes_grad_without_a_copy(backend, monkeypatch):
    """The gradient of a linear layer's weight is fresh memory: .grad takes it over (no copy)."""
    x = tl.tensor(np.ones((4, 3)), device=backend.device)
    w = leaf(np.arange(6.0).reshape(2, 3), backend.device)
    copies = []
    monkeypatch.setattr(backend, "copy", lambda a: copies.append(a.shape) or a.copy())
    tl.nn.functional.linear(x, w).backward(tl.ones(4, 2, dtype=tl.float64, device=backend.device))
    np.testing.assert_array_equal(to_np(w.grad), np.full((2, 3), 4.0))
    assert copies == ([] if REFCOUNTS_KNOWN else [(2, 3)])  # elsewhere: always a copy


def test_retain_graph_allows_second_backward(backend):
    x = leaf([0.5, 1.5], backend.device)
    loss = x.exp().sum()
    loss.backward(retain_graph=True)
    loss.backward()
    np.testing.assert_allclose(to_np(x.grad), 2 * np.exp([0.5, 1.5]), **TOL)
    with pytest.raises(RuntimeError, match="second time") as info:
        loss.backward()
    assert "retain_graph=True" in str(info.value)


def test_backward_twice_without_retain_graph_raises(backend):
    x = leaf([1.0, 2.0], backend.device)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time") as info:
        y.backward()
    assert "retain_graph=True" in str(info.value)


def test_non_scalar_backward_needs_gradient(backend):
    x = leaf([1.0, 2.0], backend.device)
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar outputs"):
        (x * 2.0).backward()


def test_scalar_backward_default_gradient_is_one(backend):
    x = leaf([1.0, 2.0], backend.device)
    (x * x).sum().backward()
    np.testing.assert_allclose(to_np(x.grad), [2.0, 4.0], **TOL)


def test_diamond_and_reused_nodes_match_torch(backend, rng):
    x, tx = pair(rng, 3, 4)

    def f(lib, x):
        a = x * 2.0
        b, c = a.exp(), a.sin()  # diamond: a feeds two branches that rejoin
        deep = a
        for _ in range(5):  # a long and a short path into the same join
            deep = deep.tanh()
        return b * c + deep + x * x * x + x  # x used in many places

    g = rng.standard_normal((3, 4))
    f(tl, x).backward(tl.tensor(g, device=backend.device))
    f(torch, tx).backward(torch.from_numpy(g))
    assert_close(x.grad, tx.grad, what="diamond", **TOL)


def test_leaf_without_requires_grad_gets_no_grad(backend):
    x = leaf([1.0, 2.0], backend.device)
    c = tl.tensor([3.0, 4.0], dtype=tl.float64, device=backend.device)
    (x * c).sum().backward()
    assert c.grad is None
    np.testing.assert_allclose(to_np(x.grad), [3.0, 4.0], **TOL)


def test_detach_blocks_gradient(backend):
    x = leaf([1.0, 2.0], backend.device)
    (x.detach() * x).sum().backward()
    np.testing.assert_allclose(to_np(x.grad), [1.0, 2.0], **TOL)


def test_is_leaf_and_grad_fn(backend):
    x = leaf([1.0], backend.device)
    y = x * 2.0
    assert x.is_leaf and x.grad_fn is None
    assert not y.is_leaf and y.grad_fn is not None and y.requires_grad
    z = tl.tensor([1.0], device=backend.device) * 2.0
    assert z.is_leaf and not z.requires_grad and z.grad_fn is None


# ----------------------------------------------------------------------------- hooks, retain_grad
def test_hook_on_intermediate_modifies_gradient_and_can_be_removed(backend):
    x = leaf([1.0, 2.0], backend.device)
    g = tl.tensor([1.0, -1.0], dtype=tl.float64, device=backend.device)
    y = x * 2.0
    handle = y.register_hook(lambda grad: grad * 3.0)
    (y * y).backward(g)  # d/dx = 2y * g * 3 * 2
    np.testing.assert_allclose(to_np(x.grad), 2 * np.array([2.0, 4.0]) * [1, -1] * 3 * 2, **TOL)
    x.grad = None
    handle.remove()
    y2 = x * 2.0
    y2.register_hook(lambda grad: None)  # returning None keeps the gradient
    seen = []
    y2.register_hook(lambda grad: seen.append(to_np(grad)))
    (y2 * y2).backward(g)
    np.testing.assert_allclose(to_np(x.grad), 2 * np.array([2.0, 4.0]) * [1, -1] * 2, **TOL)
    assert len(seen) == 1
    np.testing.assert_allclose(seen[0], 2 * np.array([2.0, 4.0]) * [1, -1], **TOL)


def test_removed_hook_does_not_fire(backend):
    x = leaf([1.0, 2.0], backend.device)
    y = x * 2.0
    handle = y.register_hook(lambda grad: grad * 100.0)
    handle.remove()
    y.backward(tl.ones(2, dtype=tl.float64, device=backend.device))
    np.testing.assert_allclose(to_np(x.grad), [2.0, 2.0], **TOL)


def test_hook_on_leaf_changes_accumulated_grad(backend):
    x = leaf([1.0, 2.0], backend.device)
    x.register_hook(lambda grad: grad + 1.0)
    (x * 3.0).backward(tl.ones(2, dtype=tl.float64, device=backend.device))
    np.testing.assert_allclose(to_np(x.grad), [4.0, 4.0], **TOL)


def test_retain_grad_on_non_leaf(backend):
    x = leaf([1.0, -2.0], backend.device)
    y = x * 3.0
    y.retain_grad()
    z = y * y
    z.backward(tl.tensor([1.0, 0.5], dtype=tl.float64, device=backend.device))
    np.testing.assert_allclose(to_np(y.grad), 2 * np.array([3.0, -6.0]) * [1.0, 0.5], **TOL)
    np.testing.assert_allclose(to_np(x.grad), 3 * 2 * np.array([3.0, -6.0]) * [1.0, 0.5], **TOL)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert z.grad is None  # a non-leaf without retain_grad keeps no .grad


def test_hook_fires_once_with_total_gradient_of_reused_tensor(backend):
    x = leaf([1.0, 2.0], backend.device)
    y = x * 2.0
    seen = []
    y.register_hook(lambda grad: seen.append(to_np(grad)))
    (y * y + y * 3.0).backward(tl.ones(2, dtype=tl.float64, device=backend.device))
    assert len(seen) == 1, f"hook fired {len(seen)} times"
    np.testing.assert_allclose(seen[0], 2 * np.array([2.0, 4.0]) + 3.0, **TOL)


def test_zeroed_grad_buffer_accumulates_afresh(backend):
    x = leaf([1.0, 2.0], backend.device)
    (x * x).sum().backward()
    with tl.no_grad():
        x.grad.zero_()
    (x * 5.0).sum().backward()
    np.testing.assert_allclose(to_np(x.grad), [5.0, 5.0], **TOL)


def test_backward_gradient_shape_mismatch_raises(backend):
    x = leaf(np.ones((2, 3)), backend.device)
    with pytest.raises((ValueError, RuntimeError)):
        (x * 2.0).backward(tl.ones(3, dtype=tl.float64, device=backend.device))


def test_backward_on_tensor_without_grad_raises(backend):
    c = tl.tensor([1.0, 2.0], device=backend.device)
    with pytest.raises(RuntimeError):
        (c * 2.0).sum().backward()
    with pytest.raises(RuntimeError):
        tl.autograd.grad((c * 2.0).sum(), [c])


# ----------------------------------------------------------------------------- autograd.grad
def test_autograd_grad_returns_tuple_without_touching_dot_grad(backend):
    x = leaf([1.0, 2.0], backend.device)
    w = leaf([3.0, 4.0], backend.device)
    y = (x * w).sum()
    gx, gw = tl.autograd.grad(y, [x, w])
    np.testing.assert_allclose(to_np(gx), [3.0, 4.0], **TOL)
    np.testing.assert_allclose(to_np(gw), [1.0, 2.0], **TOL)
    assert x.grad is None and w.grad is None


def test_autograd_grad_allow_unused(backend):
    x = leaf([1.0, 2.0], backend.device)
    unused = leaf([5.0], backend.device)
    with pytest.raises(RuntimeError):
        tl.autograd.grad((x * x).sum(), [x, unused])
    gx, gu = tl.autograd.grad((x * x).sum(), [x, unused], allow_unused=True)
    np.testing.assert_allclose(to_np(gx), [2.0, 4.0], **TOL)
    assert gu is None


def test_autograd_grad_with_grad_outputs_and_multiple_outputs(backend, rng):
    x, tx = pair(rng, 3)
    g1, g2 = rng.standard_normal(3), rng.standard_normal(())
    outs = lambda v: (v.exp(), (v * v).sum())
    (gx,) = tl.autograd.grad(outs(x), [x], grad_outputs=[tl.tensor(g1, device=backend.device),
                                                        tl.tensor(g2, device=backend.device)])
    (ex,) = torch.autograd.grad(outs(tx), [tx], grad_outputs=[torch.from_numpy(g1),
                                                             torch.from_numpy(g2)])
    assert_close(gx, ex, what="multi-output grad", **TOL)


def test_higher_order_derivatives_of_cube(backend):
    x = leaf([0.5, -1.5, 2.0], backend.device)
    y = (x ** 3).sum()
    (g1,) = tl.autograd.grad(y, [x], create_graph=True)
    np.testing.assert_allclose(to_np(g1), 3 * to_np(x) ** 2, **TOL)
    assert g1.requires_grad
    (g2,) = tl.autograd.grad(g1.sum(), [x], create_graph=True)
    np.testing.assert_allclose(to_np(g2), 6 * to_np(x), **TOL)
    (g3,) = tl.autograd.grad(g2.sum(), [x])
    np.testing.assert_allclose(to_np(g3), [6.0, 6.0, 6.0], **TOL)


def test_gradient_penalty_matches_torch(backend, rng):
    x, tx = pair(rng, 4, 3)
    w, tw = pair(rng, 3, 2)

    def penalty(lib, x, w, grad):
        out = (x @ w).tanh().sum()
        (gx,) = grad(out, [x], create_graph=True)
        return (gx * gx).sum() + out

    penalty(tl, x, w, tl.autograd.grad).backward()
    penalty(torch, tx, tw, torch.autograd.grad).backward()
    assert_close(x.grad, tx.grad, what="x", **TOL)
    assert_close(w.grad, tw.grad, what="w", **TOL)


def test_backward_create_graph_gives_differentiable_grad(backend):
    x = leaf([1.0, 2.0], backend.device)
    (x ** 3).sum().backward(create_graph=True)
    g = x.grad
    assert g.requires_grad
    (gg,) = tl.autograd.grad(g.sum(), [x])
    np.testing.assert_allclose(to_np(gg), 6 * np.array([1.0, 2.0]), **TOL)


# ----------------------------------------------------------------------------- grad mode
def test_no_grad_and_enable_grad_as_context_managers(backend):
    x = leaf([1.0], backend.device)
    with tl.no_grad():
        y = x * 2.0
        with tl.enable_grad():
            z = x * 2.0
        w = x * 2.0
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad and z.grad_fn is not None
    assert not w.requires_grad
    assert (x * 2.0).requires_grad


def test_no_grad_restores_on_exception(backend):
    x = leaf([1.0], backend.device)
    with pytest.raises(KeyError):
        with tl.no_grad():
            raise KeyError("boom")
    assert (x * 2.0).requires_grad


def test_grad_mode_decorators(backend):
    x = leaf([1.0], backend.device)

    @tl.no_grad()
    def frozen(t):
        return t * 2.0

    @tl.enable_grad()
    def tracked(t):
        return t * 2.0

    assert not frozen(x).requires_grad
    assert (x * 2.0).requires_grad  # the decorator did not leak
    with tl.no_grad():
        assert tracked(x).requires_grad
        assert not (x * 2.0).requires_grad
    assert frozen.__name__ == "frozen"


def test_no_grad_bare_decorator(backend):
    x = leaf([1.0], backend.device)

    @tl.no_grad
    def frozen(t):
        return t * 2.0

    assert not frozen(x).requires_grad
    assert (x * 2.0).requires_grad


def test_grad_mode_is_thread_local(backend):
    x = leaf([1.0], backend.device)
    entered, release = threading.Event(), threading.Event()
    result = {}

    def other():
        with tl.no_grad():
            entered.set()
            release.wait(10)
            result["other"] = (x * 2.0).requires_grad

    t = threading.Thread(target=other)
    t.start()
    assert entered.wait(10)
    try:
        assert (x * 2.0).requires_grad, "no_grad in another thread disabled grad here"
    finally:
        release.set()
        t.join(10)
    assert result["other"] is False

    with tl.no_grad():  # and the other way round: a fresh thread starts with grad enabled
        t2 = threading.Thread(target=lambda: result.update(fresh=(x * 2.0).requires_grad))
        t2.start()
        t2.join(10)
    assert result["fresh"] is True


# ----------------------------------------------------------------------------- deep graphs
def test_deep_chain_backward_has_no_recursion_limit(backend):
    x = tl.tensor(0.0, dtype=tl.float64, device=backend.device, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y + 1.0
    assert y.item() == 100_000.0
    y.backward()
    assert x.grad.item() == 1.0


# ----------------------------------------------------------------------------- gradcheck itself
def test_gradcheck_accepts_correct_and_rejects_wrong_gradients(backend):
    x = leaf([0.3, -0.7, 1.1], backend.device)
    assert tl.autograd.gradcheck(lambda t: (t * t.sin()).tanh(), (x,)) is True
    assert tl.autograd.gradgradcheck(lambda t: (t * t.sin()).tanh(), (x,)) is True

    def wrong(t):
        y = t * 1.0
        if y.requires_grad:
            y.register_hook(lambda g: g * 2.0)  # corrupts the analytical gradient
        return y.exp()

    with pytest.raises(tl.autograd.GradcheckError):
        tl.autograd.gradcheck(wrong, (x,))
    assert issubclass(tl.autograd.GradcheckError, Exception)


# ----------------------------------------------------------------------------- anomaly, dot
def test_detect_anomaly_names_forward_op(backend):
    x = leaf([0.0, 1.0], backend.device)
    with tl.autograd.detect_anomaly():
        y = x.sqrt()  # sqrt'(0) = inf; times a zero upstream gradient = NaN
        z = (y * 0.0).sum()
        with pytest.raises(RuntimeError) as info:
            z.backward()
    msg = str(info.value)
    assert "sqrt" in msg.lower()
    assert "test_autograd.py" in msg, f"message does not say where sqrt was created: {msg}"
    x.grad = None
    (x.sqrt() * 0.0).sum().backward()  # outside anomaly mode the NaN passes silently (as torch)
    assert np.isnan(to_np(x.grad)[0])


def test_to_dot(backend):
    x = leaf([1.0, 2.0], backend.device)
    w = leaf([3.0, 4.0], backend.device)
    dot = tl.utils.to_dot((x * w).exp().sum())
    assert isinstance(dot, str) and dot.lstrip().startswith("digraph")
    low = dot.lower()
    for name in ("mul", "exp", "sum"):
        assert name in low, f"{name} missing from DOT output"
    assert "->" in dot


# ----------------------------------------------------------------------------- errors
@pytest.mark.parametrize("op, fn, s1, s2", [
    ("add", lambda a, b: a + b, (2, 3), (4,)),
    ("mul", lambda a, b: a * b, (2, 3), (3, 2)),
    ("matmul", lambda a, b: a @ b, (2, 3), (4, 5)),
    ("maximum", lambda a, b: tl.maximum(a, b), (2, 5), (3, 1)),
    ("cat", lambda a, b: tl.cat([a, b], dim=0), (2, 3), (2, 4)),
    ("reshape", lambda a, b: a.reshape(b.shape), (2, 3), (4, 2)),
])
def test_shape_mismatch_error_names_op_and_shapes(backend, op, fn, s1, s2):
    a = tl.zeros(s1, device=backend.device, requires_grad=True)
    b = tl.zeros(s2, device=backend.device)
    with pytest.raises((ValueError, RuntimeError)) as info:
        fn(a, b)
    msg = str(info.value)
    assert op in msg.lower(), f"op name {op!r} missing: {msg}"
    for shape in (s1, s2):
        assert _mentions_shape(msg, shape), f"shape {shape} missing: {msg}"


def _mentions_shape(msg, shape):
    import re
    body = r",\s*".join(str(s) for s in shape)
    return re.search(r"[\[(]" + body + r",?[\])]", msg) is not None


def test_mixed_devices_error_names_both():
    if "cupy" not in tl.backends.available():
        pytest.skip(f"needs the cupy backend: {tl.backends.unavailable_reason('cupy')}")
    with tl.use_backend("cupy"):
        g = tl.ones(3, device="cuda")
    with tl.use_backend("numpy"):
        c = tl.ones(3, device="cpu")
    with pytest.raises((ValueError, RuntimeError)) as info:
        g + c
    msg = str(info.value)
    assert "cpu" in msg and "cuda" in msg


# ----------------------------------------------------------------------------- memory
def _train(device, steps, dtype=tl.float64, on_step=None, seed=0):
    rng = np.random.default_rng(seed)
    params = [tl.tensor(rng.standard_normal(s) * 0.5, dtype=dtype, device=device,
                        requires_grad=True) for s in [(4, 8), (8,), (8, 1)]]
    x = tl.tensor(rng.standard_normal((16, 4)), dtype=dtype, device=device)
    y = tl.tensor(rng.standard_normal((16, 1)), dtype=dtype, device=device)
    losses = []
    for _ in range(steps):
        w1, b1, w2 = params
        h = (x @ w1 + b1).relu()
        loss = ((h @ w2 - y) ** 2).mean()
        loss.backward()
        with tl.no_grad():
            for p in params:
                p.sub_(p.grad * 0.05)
                p.grad = None
        losses.append(loss.item())
        if on_step:
            on_step(loss, h)
    return params, losses


def test_training_loop_matches_torch(backend):
    params, losses = _train(backend.device, 50)
    rng = np.random.default_rng(0)
    tp = [torch.tensor(rng.standard_normal(s) * 0.5, requires_grad=True)
          for s in [(4, 8), (8,), (8, 1)]]
    x, y = torch.tensor(rng.standard_normal((16, 4))), torch.tensor(rng.standard_normal((16, 1)))
    for _ in range(50):
        loss = (((x @ tp[0] + tp[1]).relu() @ tp[2] - y) ** 2).mean()
        loss.backward()
        with torch.no_grad():
            for p in tp:
                p -= p.grad * 0.05
                p.grad = None
    assert losses[-1] < losses[0]
    np.testing.assert_allclose(losses[-1], loss.item(), rtol=1e-9)
    for p, e in zip(params, tp):
        assert_close(p, e, rtol=1e-9, atol=1e-12, what="trained parameter")


def _live_tensors():
    gc.collect()
    return sum(1 for o in gc.get_objects() if issubclass(type(o), tl.Tensor))


def test_training_steps_leak_no_tensors(backend):
    refs = []
    _train(backend.device, 10)  # warm caches
    before = _live_tensors()
    params, _ = _train(backend.device, 200,
                       on_step=lambda loss, h: refs.extend([weakref.ref(loss), weakref.ref(h)]))
    del params
    gc.collect()
    alive = sum(r() is not None for r in refs)
    assert alive == 0, f"{alive} per-step tensors still alive after 200 steps"
    assert _live_tensors() <= before, "tl.Tensor objects accumulated across training steps"


def test_step_intermediates_freed_by_refcount_alone(backend):
    """Without the cycle collector, a finished step's graph is freed (no reference cycles)."""
    refs = []
    gc.collect()
    gc.disable()
    try:
        _train(backend.device, 3,
               on_step=lambda loss, h: refs.extend([weakref.ref(loss), weakref.ref(h)]))
        alive = sum(r() is not None for r in refs)
    finally:
        gc.enable()
    assert alive == 0, f"{alive} step tensors only collectable by the cycle collector"


def test_backward_gradient_takes_the_output_dtype():
    import torch
    for lib in (tl, torch):
        x = lib.ones(3, requires_grad=True)
        (x * 2).backward(lib.full((3,), 0.1, dtype=lib.float64))
        assert str(x.grad.dtype).endswith("float32")
        assert abs(float(x.grad[0]) - 0.2) < 1e-7


def test_gradient_sums_in_place_never_reach_a_shared_gradient():
    """The engine adds a node's gradient contributions in place when it holds the only
    reference to the running sum; a gradient handed to two nodes at once (add's backward passes
    g to both sides, a custom Function returns one tensor twice), kept by a hook, or given by the
    user must stay as it was.  Checked against torch on the same graph."""
    import torch

    class Twice(tl.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            return a + b

        @staticmethod
        def backward(ctx, g):
            return g, g  # one tensor for both inputs

    rng = np.random.default_rng(5)
    x0, w0, up = (rng.standard_normal((4, 6)) for _ in range(3))
    results = []
    for lib, add in ((tl, Twice.apply), (torch, lambda a, b: a + b)):
        x = lib.tensor(x0, requires_grad=True)
        w = lib.tensor(w0, requires_grad=True)
        seen = []
        h = x * 2
        k = w.tanh()
        s = add(h, k)
        s.register_hook(lambda g: seen.append(g.clone()))
        t = s * 3 + h + k * s + h.exp() + k
        grad = lib.tensor(up)
        t.backward(grad)
        results.append([x.grad, w.grad, seen[0], grad])
    for got, want in zip(*results):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(results[0][3].numpy(), up)  # the user's gradient untouched
