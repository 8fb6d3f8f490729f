"""linear, alone or fused with the activation that follows it: the one place that knows about
Linear + activation fusion.

``linear(input, weight, bias, activation=name)`` is ONE tape node: the backend computes the
matmul and then bias + activation in one pass (a fused kernel where the backend has one), and
the backward computes ``g * act'(.)`` and the bias gradient in one backend call before the two
matmuls.  The result equals ``fn(linear(input, weight, bias), **kwargs)`` of the activation's
row in ``ACTIVATIONS``, the one table of the activations linear can fuse.  Under
``create_graph=True`` the backward is written with tensor ops, so gradients of gradients work.

Sequential runs a Linear directly followed by ReLU, Tanh, Sigmoid or GELU as that one node
(``run_sequential``), wherever fusing cannot change what calling the two modules would do:

- each module's class marks its ``forward`` with ``@fusable(...)``, declaring what it computes
  (Linear: ``linear`` of its ``weight`` and ``bias``; GELU: ``gelu`` with its
  ``approximate``).  A subclass inherits the mark with the forward: a subclass of Linear (or of
  ReLU, ...) that does not override ``forward`` is fused, one that overrides it is not (its
  forward may do anything), and neither is an instance whose ``forward`` attribute is replaced;
- calling the module must run exactly its forward: no forward or backward hooks on it (its own
  or global ones, which fusing would skip) and Module's own ``__call__``
  (``Module._calls_forward_only``);
- the activation's arguments must select a row of ``ACTIVATIONS`` (GELU with an unknown
  ``approximate`` is left to raise its own error).
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Callable, NamedTuple, TypeVar

from ...autograd.grad_mode import state
from ...autograd.graph import record
from ...ops.pointwise import activation_grad
from ...tensor import Tensor, wrap
from ._common import check_like, float_backend
from .activation import gelu, gelu_grad, relu, sigmoid, tanh

if TYPE_CHECKING:
    from ...autograd.graph import Context
    from ..module import Module

__all__ = ["linear"]

_F = TypeVar("_F", bound=Callable[..., Any])


class Activation(NamedTuple):
    """An activation linear can fuse: it applies ``fn(z, **kwargs)`` to the linear's output z.
    Its backward keeps the activation's output (``from_output``) or z, and ``grad(g, kept)`` is
    ``g * act'(z)`` written with tensor ops (differentiable again)."""
    fn: Callable
    kwargs: dict
    from_output: bool
    grad: Callable


ACTIVATIONS = {
    "relu": Activation(relu, {}, True, lambda g, y: activation_grad("relu", g, y)),
    "tanh": Activation(tanh, {}, True, lambda g, y: activation_grad("tanh", g, y)),
    "sigmoid": Activation(sigmoid, {}, True, lambda g, y: activation_grad("sigmoid", g, y)),
    "gelu": Activation(gelu, {"approximate": "none"}, False,
                       lambda g, z: g * gelu_grad(z, "none")),
    "gelu_tanh": Activation(gelu, {"approximate": "tanh"}, False,
                            lambda g, z: g * gelu_grad(z, "tanh")),
}


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None, *,
           activation: str | None = None) -> Tensor:
    """``input @ weight.T + bias``; ``input`` is (*, in_features), weight (out, in).

    ``activation`` (tensorlite's extension: None or a name in ``ACTIVATIONS``: 'relu', 'tanh',
    'sigmoid', 'gelu', 'gelu_tanh') applies that activation in the same tape node, with the
    backend's fused bias + activation pass; the result equals the activation applied to the
    plain linear."""
    B = float_backend("linear", input)
    check_like("linear", input, weight=weight, bias=bias)
    if weight.ndim != 2 or input.ndim == 0 or input.shape[-1] != weight.shape[1]:
        raise RuntimeError(f"linear: input {list(input.shape)} and weight {list(weight.shape)} "
                           "do not fit: weight must be (out_features, in_features) and the "
                           "input's last dimension in_features")
    out_f, in_f = weight.shape
    if bias is not None and tuple(bias.shape) != (out_f,):
        raise RuntimeError(f"linear: bias has shape {list(bias.shape)}, expected [{out_f}]")
    act = None if activation is None else ACTIVATIONS.get(activation)
    if activation is not None and act is None:
        raise ValueError(f"linear: unknown activation {activation!r}; expected None or one of "
                         f"{', '.join(map(repr, ACTIVATIONS))}")
    b = None if bias is None else bias._data
    xshape = input.shape

    def backward(ctx: Context, g: Tensor) -> tuple[Tensor | None, Tensor | None, Tensor | None]:
        """Saved by name: ``x``, ``w``; the activation's output ``y`` when its backward works from
        it (relu, tanh, sigmoid), or ``bias`` and the pre-activation ``pre`` (the GELUs)."""
        x, w = ctx.x, ctx.w
        rows = math.prod(xshape[:-1])  # not -1: ambiguous where a feature dim is of size 0
        g2 = g if g.ndim == 2 else g.reshape(rows, out_f)
        x2 = x if x.ndim == 2 else x.reshape(rows, in_f)
        if state.grad_enabled:  # create_graph: every gradient as tensor ops (differentiable)
            if act is None:
                gz = g2
            else:  # the pre-activation is recomputed, so its dependence on x, w, b counts
                kept = ctx.y if act.from_output else linear(x, w, ctx.bias)
                gz = act.grad(g2, kept if kept.ndim == 2 else kept.reshape(rows, out_f))
            return ((gz @ w).reshape(xshape) if ctx.needs_input_grad[0] else None,
                    gz.mT @ x2 if ctx.needs_input_grad[1] else None,
                    gz.sum(0) if ctx.needs_input_grad[2] else None)
        # one backend call for g * act'(.) and the bias gradient (its column sum), then the
        # two matmuls, on the raw arrays: no tape ops where no graph is built
        s = None if act is None else ctx.y if act.from_output else ctx.pre
        gz, gb = B.linear_act_grad(g2._data,
                                   g2._data if s is None else B.reshape(s._data, g2.shape),
                                   activation, ctx.needs_input_grad[2])
        dev = g.device
        return (wrap(B.reshape(B.matmul(gz, w._data), xshape), dev)
                if ctx.needs_input_grad[0] else None,
                wrap(B.matmul(B.transpose(gz), x2._data), dev) if ctx.needs_input_grad[1] else None,
                wrap(gb, dev) if ctx.needs_input_grad[2] else None)

    if act is None:
        return record("linear", B.linear(input._data, weight._data, b), (input, weight, bias),
                      backward, save={"x": input, "w": weight})
    if not act.from_output:
        y, pre = B.linear(input._data, weight._data, b, activation, keep_pre=True)
        return record("linear", y, (input, weight, bias), backward,
                      save={"x": input, "w": weight, "bias": bias,
                            "pre": wrap(pre, input.device)})
    return record("linear", B.linear(input._data, weight._data, b, activation),
                  (input, weight, bias), backward, save={"x": input, "w": weight}, output="y")


# -- Sequential: Linear followed by an activation module as one linear(activation=) node -----------
def fusable(fn: Callable[..., Any], *attrs: str) -> Callable[[_F], _F]:
    """Mark a module class's ``forward(self, input)`` as computing ``fn`` of the input and
    nothing else: ``linear`` with the module's ``weight`` and ``bias``, or an activation ``fn``
    with the keyword arguments named by ``attrs`` read from the module (GELU: "approximate")."""
    def mark(forward: _F) -> _F:
        forward.fuses = (fn, tuple(sorted(attrs)))  # type: ignore[attr-defined]
        return forward
    return mark


# (functional, its keyword arguments as sorted (name, value) pairs) -> the ACTIVATIONS name
_BY_CALL = {(a.fn, tuple(sorted(a.kwargs.items()))): name for name, a in ACTIVATIONS.items()}


def _marked(module: Module) -> tuple[Callable[..., Any], tuple[str, ...]] | None:
    """What ``module``'s forward is marked to compute, (fn, attrs), where calling the module runs
    exactly that forward; otherwise None."""
    mark = getattr(getattr(type(module), "forward", None), "fuses", None)
    if mark is None or "forward" in vars(module) or not module._calls_forward_only():
        return None
    return mark


def fused_activation(first: Module, second: Module) -> str | None:
    """The ``ACTIVATIONS`` name under which ``first`` (a Linear) and ``second`` (an activation
    module) run as one ``linear(activation=)`` node, or None if they must run one by one."""
    lin = _marked(first)
    if lin is None or lin[0] is not linear:
        return None
    act = _marked(second)
    if act is None:
        return None
    fn, attrs = act
    try:
        return _BY_CALL.get((fn, tuple([(a, getattr(second, a)) for a in attrs]) if attrs else ()))
    except TypeError:  # an unhashable argument selects no row
        return None


def run_sequential(modules: Iterable[Any], input: Any) -> Any:
    """``input`` through ``modules`` in order, each Linear + activation pair that
    ``fused_activation`` allows as one node."""
    mods = list(modules)
    i, n = 0, len(mods)
    while i < n:
        m = mods[i]
        name = fused_activation(m, mods[i + 1]) if i + 1 < n else None
        if name is None:
            input = m(input)
            i += 1
        else:
            input = linear(input, m.weight, m.bias, activation=name)
            i += 2
    return input
