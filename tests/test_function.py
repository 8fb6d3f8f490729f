"""tensorlite.autograd.Function against torch.autograd.Function: the same subclass, written once
for both libraries, gives the same values, gradients, second derivatives and errors."""
import gc
import os
import re
import runpy
import weakref
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import tensorlite as tl
from helpers import N, assert_close, check_op, check_second_order, to_np

TOL = dict(rtol=1e-10, atol=1e-12)
GRAD_MODE_IN_BACKWARD = {}
EXAMPLE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                       "examples", "ports", "tutorials", "learning_pytorch_with_examples",
                       "polynomial_custom_function.py")


def _functions(lib):
    """Custom Functions written once against ``lib`` (tensorlite or torch)."""
    Function = lib.autograd.Function
    once_differentiable = lib.autograd.function.once_differentiable

    class LegendrePolynomial3(Function):
        @staticmethod
        def forward(ctx, input):
            ctx.save_for_backward(input)
            return 0.5 * (5 * input ** 3 - 3 * input)

        @staticmethod
        def backward(ctx, grad_output):
            input, = ctx.saved_tensors
            return grad_output * 1.5 * (5 * input ** 2 - 1)

    class ScaledCube(Function):  # a non-tensor argument between tensors, an attribute on ctx
        @staticmethod
        def forward(ctx, x, k, w):
            ctx.save_for_backward(x, w)
            ctx.k = k
            return k * x ** 3 * w

        @staticmethod
        def backward(ctx, g):
            x, w = ctx.saved_tensors
            return g * 3 * ctx.k * x ** 2 * w, None, (g * ctx.k * x ** 3).sum(0)

    class Exp(Function):  # saves its own output
        @staticmethod
        def forward(ctx, x):
            y = x.exp()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, g):
            y, = ctx.saved_tensors
            return g * y

    class SinCos(Function):  # two differentiable outputs, both saved
        @staticmethod
        def forward(ctx, x):
            s, c = x.sin(), x.cos()
            ctx.save_for_backward(s, c)
            return s, c

        @staticmethod
        def backward(ctx, gs, gc):
            s, c = ctx.saved_tensors
            return gs * c - gc * s

    class MulSetup(Function):  # forward without ctx plus setup_context
        @staticmethod
        def forward(x, y, scale=2.0):
            return x * y * scale

        @staticmethod
        def setup_context(ctx, inputs, output):
            x, y, scale = inputs
            ctx.save_for_backward(x, y)
            ctx.scale = scale

        @staticmethod
        def backward(ctx, g):
            x, y = ctx.saved_tensors
            return g * y * ctx.scale, g * x * ctx.scale, None

    class Square(Function):  # a backward that is not differentiable again
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 2

        @staticmethod
        @once_differentiable
        def backward(ctx, g):
            x, = ctx.saved_tensors
            GRAD_MODE_IN_BACKWARD[lib] = lib.is_grad_enabled()
            return 2 * x * g

    return SimpleNamespace(**{k: v for k, v in locals().items() if isinstance(v, type)})


FN = {tl: _functions(tl), torch: _functions(torch)}


def pair(rng, *shape, requires_grad=True):
    """The same float64 values as a tensorlite tensor (on the backend's device) and a torch one."""
    x = rng.standard_normal(shape)
    return (tl.tensor(x, device=tl.get_backend().device, requires_grad=requires_grad),
            torch.tensor(x, requires_grad=requires_grad))


def define(lib, body, backward=None, name="Custom"):
    """A Function subclass of ``lib`` from a forward (and backward) given as plain functions."""
    attrs = {"forward": staticmethod(body)}
    if backward is not None:
        attrs["backward"] = staticmethod(backward)
    return type(name, (lib.autograd.Function,), attrs)


def raises_like_torch(make, match):
    """``make(lib)`` raises for torch and for tensorlite, the same class of error; tensorlite's
    message matches ``match``.  Returns both messages."""
    with pytest.raises(Exception) as want:
        make(torch)
    with pytest.raises(type(want.value), match=match) as got:
        make(tl)
    return str(got.value), str(want.value)


# ----------------------------------------------------------------------------- values and gradients
@pytest.mark.parametrize("fn, args", [
    (lambda lib, x: FN[lib].LegendrePolynomial3.apply(x), [N(3, 4)]),
    (lambda lib, x, w: FN[lib].ScaledCube.apply(x, 1.5, w), [N(3, 4), N(4)]),
    (lambda lib, x: FN[lib].Exp.apply(x), [N(5)]),
    (lambda lib, x: FN[lib].SinCos.apply(x), [N(2, 3)]),
    (lambda lib, x: FN[lib].SinCos.apply(x)[1], [N(4)]),  # one of two outputs used
    (lambda lib, x, y: FN[lib].MulSetup.apply(x, y), [N(3), N(3)]),
    (lambda lib, x, y: FN[lib].MulSetup.apply(x, y=y, scale=-0.5), [N(3), N(3)]),
    (lambda lib, x: FN[lib].Square.apply(x), [N(2, 2)]),
], ids=["legendre", "non_tensor_arg", "saved_output", "two_outputs", "one_output_used",
        "setup_context", "keyword_args", "once_differentiable"])
def test_function_matches_torch(backend, fn, args):
    """Forward, gradients (float64 and float32) against torch, and tensorlite's gradcheck."""
    check_op(fn, *args)


@pytest.mark.parametrize("fn, args", [
    (lambda lib, x: FN[lib].LegendrePolynomial3.apply(x), [N(3, 2)]),
    (lambda lib, x, w: FN[lib].ScaledCube.apply(x, 1.5, w), [N(3, 4), N(4)]),
    (lambda lib, x: FN[lib].Exp.apply(x), [N(5)]),
    (lambda lib, x: (lambda s, c: s * c + c)(*FN[lib].SinCos.apply(x)), [N(4)]),
    (lambda lib, x, y: FN[lib].MulSetup.apply(x, y), [N(3), N(3)]),
], ids=["legendre", "non_tensor_arg", "saved_output", "two_outputs_saved", "setup_context"])
def test_backward_is_differentiable_again(backend, fn, args):
    """A backward written with tensor ops is recorded under create_graph=True: second
    derivatives match torch's, and gradgradcheck passes."""
    check_second_order(fn, *args)


def test_grad_fn_is_named_after_the_class(backend, rng):
    (x, tx) = pair(rng, 3)
    y, ty = FN[tl].LegendrePolynomial3.apply(x), FN[torch].LegendrePolynomial3.apply(tx)
    assert y.grad_fn.name() == ty.grad_fn.name()
    assert f"grad_fn=<{ty.grad_fn.name()}>" in repr(y)
    assert (ty * 2).grad_fn.next_functions[0][0] is ty.grad_fn
    assert (y * 2).grad_fn.next_functions[0][0] is y.grad_fn


def test_forward_runs_with_grad_mode_off(backend, rng):
    seen = {}

    def body(lib):
        def forward(ctx, x):
            seen[lib] = lib.is_grad_enabled()
            inner = x * 2
            seen[lib, "inner"] = inner.requires_grad
            return inner
        return define(lib, forward, lambda ctx, g: g * 2)

    (x, tx) = pair(rng, 3)
    body(tl).apply(x), body(torch).apply(tx)
    assert seen[tl] == seen[torch] and seen[tl, "inner"] == seen[torch, "inner"]


@pytest.mark.parametrize("grad_mode", [True, False])
def test_needs_input_grad_as_torch(backend, rng, grad_mode):
    seen = {lib: [] for lib in (tl, torch)}

    def make(lib):
        def forward(ctx, x, k, y):
            seen[lib].append(ctx.needs_input_grad)
            return x * y * k

        def backward(ctx, g):
            seen[lib].append(ctx.needs_input_grad)
            return g, None, g
        return define(lib, forward, backward)

    x, tx = pair(rng, 3)
    y, ty = pair(rng, 3, requires_grad=False)
    for lib, a, b in ((tl, x, y), (torch, tx, ty)):
        with lib.set_grad_enabled(grad_mode):
            out = make(lib).apply(a, 3.0, b)
        if out.requires_grad:
            out.sum().backward()
    assert seen[tl] == seen[torch]
    assert seen[tl][0] == (True, False, False)


def test_non_tensor_outputs_pass_through_and_get_none(backend, rng):
    got = {}

    def make(lib):
        def backward(ctx, g, *rest):
            got[lib] = (to_np(g), rest)
            return g * 3
        return define(lib, lambda ctx, x: (x * 2, "label", 7), backward)

    x, tx = pair(rng, 3)
    out, tout = make(tl).apply(x), make(torch).apply(tx)
    assert out[1:] == tout[1:]
    out[0].sum().backward(), tout[0].sum().backward()
    np.testing.assert_array_equal(got[tl][0], got[torch][0])
    assert got[tl][1] == got[torch][1] == (None, None)
    assert_close(x.grad, tx.grad, **TOL)


# ----------------------------------------------------------------------------- saved tensors
def test_saved_input_changed_in_place_fails_backward(backend, rng):
    def run(lib, a):
        z = a * 1
        y = FN[lib].LegendrePolynomial3.apply(z)
        with lib.no_grad():
            z.add_(1)
        y.sum().backward()

    x, tx = pair(rng, 3)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        run(torch, tx)
    with pytest.raises(RuntimeError, match="LegendrePolynomial3.*modified by an inplace operation"):
        run(tl, x)


def test_saved_output_changed_in_place_fails_backward(backend, rng):
    def run(lib, a):
        y = FN[lib].Exp.apply(a * 1)
        with lib.no_grad():
            y.mul_(2)
        y.sum().backward()

    x, tx = pair(rng, 3)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        run(torch, tx)
    with pytest.raises(RuntimeError, match="Exp.*modified by an inplace operation"):
        run(tl, x)


def test_saved_tensors_gone_after_backward_without_retain_graph(backend, rng):
    def run(lib, a, retain):
        y = FN[lib].LegendrePolynomial3.apply(a)
        y.sum().backward(retain_graph=retain)
        y.sum().backward()

    x, tx = pair(rng, 3)
    run(torch, tx, True), run(tl, x, True)  # retained: twice is fine, and accumulates
    assert_close(x.grad, tx.grad, **TOL)
    with pytest.raises(RuntimeError, match="second time"):
        run(torch, tx, False)
    with pytest.raises(RuntimeError, match="LegendrePolynomial3.*second time"):
        run(tl, x, False)


def test_save_for_backward_takes_only_tensors(backend, rng):
    x, tx = pair(rng, 2)
    raises_like_torch(lambda lib: define(lib, lambda ctx, a: ctx.save_for_backward(a, 3) or a * 2,
                                         name="SaveInt").apply(x if lib is tl else tx),
                      "SaveInt: save_for_backward can only save tensors")


@pytest.mark.parametrize("outputs", [1, 2])
def test_graph_is_freed_by_refcount(backend, rng, outputs):
    """Saved outputs are held without their node: no reference cycle keeps a step's graph (and
    its ctx) alive once the outputs are gone."""
    ctxs = []

    def forward(ctx, t):
        ctxs.append(weakref.ref(ctx))
        out = tuple(t * k for k in range(1, outputs + 1))
        ctx.save_for_backward(*out)
        return out

    x, _ = pair(rng, 3)
    gc.disable()
    try:
        y = define(tl, forward, lambda ctx, *gs: sum(gs)).apply(x * 1)
        assert ctxs[0]() is not None and all(t.grad_fn is not None for t in y)
        del y
        assert ctxs[0]() is None, "the graph outlived its outputs"
    finally:
        gc.enable()


# ----------------------------------------------------------------------------- several outputs
@pytest.mark.parametrize("materialize", [True, False])
@pytest.mark.parametrize("use", ["first", "second", "both"])
def test_unused_outputs_get_zeros_or_none(backend, rng, materialize, use):
    got = {}

    def make(lib):
        def forward(ctx, x):
            ctx.set_materialize_grads(materialize)
            return x * 2, x * 3

        def backward(ctx, g, h):
            got[lib] = [None if v is None else to_np(v) for v in (g, h)]
            return sum(v * k for v, k in ((g, 2), (h, 3)) if v is not None)
        return define(lib, forward, backward)

    x, tx = pair(rng, 3)
    for lib, a in ((tl, x), (torch, tx)):
        u, v = make(lib).apply(a)
        loss = {"first": u.sum(), "second": (v * v).sum(), "both": (u * v).sum()}[use]
        loss.backward()
    for mine, theirs in zip(got[tl], got[torch]):
        assert (mine is None) == (theirs is None)
        if theirs is not None:
            np.testing.assert_allclose(mine, theirs, **TOL)
    assert_close(x.grad, tx.grad, **TOL)


def test_each_output_has_its_own_hooks_and_retained_grad(backend, rng):
    seen = {lib: [] for lib in (tl, torch)}
    x, tx = pair(rng, 3)
    for lib, a in ((tl, x), (torch, tx)):
        s, c = FN[lib].SinCos.apply(a)
        s.retain_grad(), c.retain_grad()
        c.register_hook(lambda g, lib=lib: seen[lib].append(to_np(g)))
        (s * 2 + c * c).sum().backward()
        seen[lib] += [to_np(s.grad), to_np(c.grad)]
    for mine, theirs in zip(seen[tl], seen[torch]):
        np.testing.assert_allclose(mine, theirs, **TOL)
    assert_close(x.grad, tx.grad, **TOL)


def test_mark_non_differentiable(backend, rng):
    got = {}

    def make(lib):
        def forward(ctx, x):
            values, order = x * 2, x.argmax()
            flags = x > 0
            ctx.mark_non_differentiable(flags)
            return values, order, flags

        def backward(ctx, g, h, k):
            got[lib] = [to_np(v) for v in (g, h, k)]
            return g * 2
        return define(lib, forward, backward)

    x, tx = pair(rng, 4)
    out, tout = make(tl).apply(x), make(torch).apply(tx)
    assert [o.requires_grad for o in out] == [o.requires_grad for o in tout] == [True, False, False]
    out[0].sum().backward(), tout[0].sum().backward()
    for mine, theirs in zip(got[tl], got[torch]):
        assert_close(mine, theirs, **TOL)


# ----------------------------------------------------------------------------- in place (mark_dirty)
def _add_one_in_place(lib):
    def forward(ctx, x):
        x.add_(1)
        ctx.mark_dirty(x)
        ctx.save_for_backward(x)
        return x

    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g * x  # uses the saved (changed) values
    return define(lib, forward, backward, name="AddOne")


def test_mark_dirty_changes_the_input_and_takes_its_place(backend, rng):
    x, tx = pair(rng, 3)
    for lib, a in ((tl, x), (torch, tx)):
        z = a * 1
        out = _add_one_in_place(lib).apply(z)
        assert out is z
        assert out.grad_fn.name() == "AddOneBackward"
        (out * out).sum().backward()
    assert_close(x.grad, tx.grad, **TOL)


def test_mark_dirty_errors_as_torch(backend, rng):
    x, tx = pair(rng, 3)
    # a leaf that requires grad may not be changed in place
    raises_like_torch(lambda lib: _add_one_in_place(lib).apply(x if lib is tl else tx),
                      "AddOne: a leaf tensor that requires grad")

    def not_returned(lib):
        def forward(ctx, a, b):
            a.add_(1)
            ctx.mark_dirty(a)
            return b * 2
        y, ty = pair(rng, 3, requires_grad=False)
        return define(lib, forward, name="Forgot").apply(y if lib is tl else ty,
                                                         x if lib is tl else tx)
    raises_like_torch(not_returned, "Forgot: some tensors marked as dirty")


def test_input_returned_as_is_is_a_view(backend, rng):
    x, tx = pair(rng, 3)
    for lib, a in ((tl, x), (torch, tx)):
        out = define(lib, lambda ctx, t: t, lambda ctx, g: g * 3).apply(a)
        assert out is not a and out.grad_fn is not None
        out.sum().backward()
    assert_close(x.grad, tx.grad, **TOL)


def test_apply_under_no_grad_records_nothing(backend, rng):
    x, tx = pair(rng, 3)
    for lib, a in ((tl, x), (torch, tx)):
        with lib.no_grad():
            out = FN[lib].LegendrePolynomial3.apply(a)
        assert not out.requires_grad and out.grad_fn is None


# ----------------------------------------------------------------------------- backward's result
def test_backward_returns_extra_nones_but_not_extra_gradients(backend, rng):
    x, tx = pair(rng, 3)
    for lib, a in ((tl, x), (torch, tx)):
        define(lib, lambda ctx, t: t * 2, lambda ctx, g: (g * 2, None, None)).apply(a).sum().backward()
    assert_close(x.grad, tx.grad, **TOL)
    mine, theirs = raises_like_torch(
        lambda lib: define(lib, lambda ctx, t: t * 2, lambda ctx, g: (g, g), name="TooMany")
        .apply(x if lib is tl else tx).sum().backward(), "TooManyBackward")
    assert mine == theirs
    mine, theirs = raises_like_torch(
        lambda lib: define(lib, lambda ctx, a, b: a * b, lambda ctx, g: g, name="TooFew")
        .apply(x if lib is tl else tx, x if lib is tl else tx).sum().backward(), "TooFewBackward")
    assert mine == theirs


def test_gradient_for_a_non_tensor_argument_is_an_error(backend, rng):
    x, tx = pair(rng, 3)
    raises_like_torch(
        lambda lib: define(lib, lambda ctx, t, k: t * k, lambda ctx, g: (g, g), name="ForK")
        .apply(x if lib is tl else tx, 2.0).sum().backward(),
        r"ForKBackward returned a gradient different than None at position 2")
    raises_like_torch(
        lambda lib: define(lib, lambda ctx, t: t * 2, lambda ctx, g: 3.0, name="Number")
        .apply(x if lib is tl else tx).sum().backward(), "NumberBackward")


def test_gradient_of_the_wrong_shape_is_an_error(backend, rng):
    x, tx = pair(rng, 3)
    mine, theirs = raises_like_torch(
        lambda lib: define(lib, lambda ctx, t: t * 2, lambda ctx, g: g[:2], name="Short")
        .apply(x if lib is tl else tx).sum().backward(), "ShortBackward")
    assert mine.startswith(theirs)  # torch's message, then which gradient it was


def test_broadcast_gradient_is_summed_and_cast(backend, rng):
    """A gradient that the input broadcasts to is summed down to it, and cast to its dtype."""
    x, tx = pair(rng, 3)
    for lib, a in ((tl, x), (torch, tx)):
        out = define(lib, lambda ctx, t: t * 2,
                     lambda ctx, g: g.expand(4, 3).double()).apply(a.float())
        (out * out).sum().backward()
    assert x.grad.dtype == tl.float64
    assert_close(x.grad, tx.grad, **TOL)
    x32, tx32 = x.detach().float().requires_grad_(), tx.detach().float().requires_grad_()
    for lib, a in ((tl, x32), (torch, tx32)):
        define(lib, lambda ctx, t: t * 2, lambda ctx, g: g.double() * 2).apply(a).sum().backward()
    assert_close(x32.grad, tx32.grad, rtol=1e-6, atol=1e-6)  # float32, as the leaf


def test_forward_returning_no_tensor_is_an_error_while_grad_flows(backend, rng):
    """torch returns such a result silently (without a gradient); tensorlite refuses it while a
    gradient should flow, and passes it through, as torch, when none does."""
    x, tx = pair(rng, 3)
    as_list = define(tl, lambda ctx, t: [t * 2, t * 3], name="AsList")
    with pytest.raises(TypeError, match="AsList.forward returned list"):
        as_list.apply(x)
    as_array = define(tl, lambda ctx, t: np.asarray(t.detach().cpu()) * 2, name="AsArray")
    with pytest.raises(TypeError, match="AsArray.forward returned ndarray"):
        as_array.apply(x)
    with tl.no_grad():
        mine = as_list.apply(x)
    theirs = define(torch, lambda ctx, t: [t * 2, t * 3]).apply(tx)
    assert type(mine) is type(theirs) is list
    for a, b in zip(mine, theirs):
        assert_close(a, b.detach(), **TOL)


@pytest.mark.filterwarnings("ignore:.*should not be instantiated:DeprecationWarning")
def test_function_is_not_called_as_an_instance(backend, rng):
    x, tx = pair(rng, 3)
    raises_like_torch(lambda lib: FN[lib].LegendrePolynomial3()(x if lib is tl else tx),
                      "LegendrePolynomial3.apply")


# ----------------------------------------------------------------------------- once_differentiable
@pytest.mark.filterwarnings("ignore:Using backward.. with create_graph=True")
def test_once_differentiable_runs_backward_without_grad_mode(backend, rng):
    x, tx = pair(rng, 3)
    GRAD_MODE_IN_BACKWARD.clear()
    for lib, a in ((tl, x), (torch, tx)):
        FN[lib].Square.apply(a).sum().backward(create_graph=True)
    assert GRAD_MODE_IN_BACKWARD[tl] is GRAD_MODE_IN_BACKWARD[torch] is False
    assert_close(x.grad, tx.grad, **TOL)


def test_once_differentiable_refuses_double_backward(backend, rng):
    x, tx = pair(rng, 3)

    def twice(lib, a):
        y = FN[lib].Square.apply(a)
        up = lib.ones(3, dtype=lib.float64, device=a.device, requires_grad=True)
        g, = lib.autograd.grad(y, a, up, create_graph=True)
        g.sum().backward()

    with pytest.raises(RuntimeError, match="once_differentiable"):
        twice(torch, tx)
    with pytest.raises(RuntimeError, match=r"once_differentiable \(SquareBackward\)"):
        twice(tl, x)
    # torch lets a create_graph gradient through here without a graph (its second backward
    # fails with "does not require grad"); tensorlite names the Function instead
    g, = tl.autograd.grad(FN[tl].Square.apply(x).sum(), x, create_graph=True)
    with pytest.raises(RuntimeError, match=r"once_differentiable \(SquareBackward\)"):
        g.sum().backward()


# ----------------------------------------------------------------------------- the tutorial
def _losses(text):
    return np.array([float(v) for v in re.findall(r"^\d+ ([\d.e+-]+)$", text, re.M)])


def test_tutorial_script_runs_and_learns_as_with_torch(backend, capsys):
    """examples/ports/tutorials/learning_pytorch_with_examples/polynomial_custom_function.py is
    PyTorch's tutorial with the import changed: its loss every 100 steps follows torch's run of
    the same source."""
    runpy.run_path(EXAMPLE, run_name="__main__")
    mine = _losses(capsys.readouterr().out)
    with open(EXAMPLE) as f:
        source = f.read()
    assert "import tensorlite as torch\n" in source
    exec(compile(source.replace("import tensorlite as torch\n", "import torch\n"), EXAMPLE,
                 "exec"), {"__name__": "__main__"})
    theirs = _losses(capsys.readouterr().out)
    assert len(mine) == len(theirs) == 20
    assert np.all(np.diff(mine) < 0), "the loss must fall at every report"
    assert mine[-1] < 0.1 * mine[0]
    np.testing.assert_allclose(mine, theirs, rtol=1e-4)
