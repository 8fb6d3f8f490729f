"""Custom differentiable ops, as PyTorch's ``torch.autograd.Function``.

    class Exp(Function):
        @staticmethod
        def forward(ctx, x):
            y = x.exp()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, grad):
            (y,) = ctx.saved_tensors
            return grad * y

    y = Exp.apply(x)

``apply`` runs ``forward`` with grad mode off and puts one tape node (``graph.record``) on the
outputs, named "ExpBackward"; the engine calls ``backward`` like any op's, so gradients flow,
saved tensors are version-checked, and a ``backward`` written with tensor ops is recorded under
``create_graph=True`` and can be differentiated again.  When several outputs are
differentiable, each gets a small node of its own (its hooks and ``retain_grad`` see that
output's gradient) leading to the Function's node, which receives their gradients as ``Slots``.
"""
from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from .. import dtypes
from ..tensor import Tensor, describe, make_view, wrap
from .grad_mode import no_grad, state
from .graph import EVERY_OUTPUT, Backward, Context, Node, Slots, _new, _Output, record

_F = TypeVar("_F", bound=Callable[..., Any])
# A tensor's (shape, dtype, device), or None for a non-tensor argument or output.
_Meta = tuple[tuple[int, ...], Any, str] | None


class FunctionCtx:
    """What ``forward`` (or ``setup_context``) leaves for ``backward``: saved tensors, which
    inputs need a gradient, and any attribute set on it (``ctx.constant = 3``)."""

    def __init__(self, name: str, needs_input_grad: tuple[bool, ...]) -> None:
        self.needs_input_grad = needs_input_grad
        self.materialize_grads = True
        self._to_save: tuple[Tensor | None, ...]
        self._dirty: tuple[Tensor, ...]
        self._non_differentiable: tuple[Tensor, ...]
        self._name, self._to_save, self._dirty, self._non_differentiable = name, (), (), ()
        # the unpacked saved tensors while backward runs
        self._saved: tuple[Tensor | None, ...] | None = None

    def save_for_backward(self, *tensors: Tensor | None) -> None:
        """Keep ``tensors`` (or None) for backward; an in-place change to one of them before
        backward makes backward fail instead of using the changed values."""
        for i, t in enumerate(tensors):
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(f"{self._name}: save_for_backward can only save tensors (or "
                                f"None), but argument {i} is of type {type(t).__name__}; keep "
                                "other values as attributes of ctx (ctx.value = ...)")
        self._to_save = tensors

    @property
    def saved_tensors(self) -> tuple[Tensor | None, ...]:
        if self._saved is None:
            raise RuntimeError(
                f"{self._name}: saved_tensors can be read only inside backward (or the graph "
                "was freed by an earlier backward; use retain_graph=True to backward twice)")
        return self._saved

    def mark_dirty(self, *tensors: Tensor) -> None:
        """Declare inputs that forward changed in place; they must be returned as outputs."""
        self._dirty = _tensors(self._name, "mark_dirty", tensors)

    def mark_non_differentiable(self, *tensors: Tensor) -> None:
        """Declare outputs that take no gradient (backward gets zeros, or None, for them)."""
        self._non_differentiable = _tensors(self._name, "mark_non_differentiable", tensors)

    def set_materialize_grads(self, value: bool) -> None:
        """True (the default): backward gets zeros for outputs that received no gradient;
        False: it gets None for them."""
        self.materialize_grads = bool(value)


def _tensors(name: str, what: str, tensors: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"{name}: {what} can only accept tensors, but argument {i} is of "
                            f"type {type(t).__name__}")
    return tensors


class Function:
    """Subclass with static ``forward(ctx, *args)`` and ``backward(ctx, *grad_outputs)``
    (one gradient per forward argument, None for non-tensors), then call ``apply``.  Or
    ``forward(*args)`` plus ``setup_context(ctx, inputs, output)``, as in PyTorch."""

    @staticmethod
    def forward(ctx: Any, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("You must implement the forward function for a custom "
                                  "autograd.Function.")

    @staticmethod
    def setup_context(ctx: FunctionCtx, inputs: tuple[Any, ...], output: Any) -> None:
        raise NotImplementedError("setup_context is not implemented.")

    @staticmethod
    def backward(ctx: FunctionCtx, *grad_outputs: Any) -> Any:
        raise NotImplementedError("You must implement the backward function for a custom "
                                  "autograd.Function to differentiate through it.")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"{type(self).__name__}: call {type(self).__name__}.apply(...); "
                           "autograd Functions are not instantiated (forward and backward are "
                           "static methods)")

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        setup = cls.setup_context is not Function.setup_context
        if kwargs or setup:
            args, kwargs = _bind(cls.forward, args, kwargs, with_ctx=not setup)
        ctx = FunctionCtx(cls.__name__,
                          tuple(isinstance(a, Tensor) and a.requires_grad for a in args))
        with no_grad():
            if setup:
                out = cls.forward(*args, **kwargs)
                cls.setup_context(ctx, args, out)
            else:
                out = cls.forward(ctx, *args, **kwargs)
        return _attach(cls, ctx, args, out)


def _bind(forward: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
          with_ctx: bool) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Keyword arguments given by name bound to their positions (so each has a gradient slot)."""
    bound = inspect.signature(forward).bind(*((None,) if with_ctx else ()), *args, **kwargs)
    bound.apply_defaults()
    return bound.args[1:] if with_ctx else bound.args, bound.kwargs


def _attach(cls: type[Function], ctx: FunctionCtx, args: tuple[Any, ...], out: Any) -> Any:
    """Put the Function's node on the tape for ``forward``'s result ``out``."""
    name = cls.__name__
    outs = [out] if not isinstance(out, tuple) else list(out)
    for t in ctx._dirty:
        if not any(t is o for o in outs):
            raise RuntimeError(f"{name}: some tensors marked as dirty during forward were not "
                               "returned as outputs; inputs changed in place must all be "
                               "returned by forward")
    inputs = [a for a in args if isinstance(a, Tensor)]
    if not (state.grad_enabled and any(t.requires_grad for t in inputs)):
        return out
    if not any(isinstance(o, Tensor) for o in outs):
        raise TypeError(f"{name}.forward returned {type(out).__name__}, not a tensor or a tuple "
                        "holding tensors, while an input requires grad, so nothing could carry "
                        "the gradient: return tensors (tensorlite.tensor(...) for arrays, a "
                        "tuple rather than a list)")
    diff = [i for i, o in enumerate(outs) if isinstance(o, Tensor)
            and dtypes.is_floating_point(o.dtype)
            and not any(o is t for t in ctx._non_differentiable)]
    _own_outputs(name, ctx, inputs, outs)
    if not diff:
        return out if not isinstance(out, tuple) else tuple(outs)
    several = len(diff) > 1
    saved = {f"t{i}": _saved(t, outs, diff, several) for i, t in enumerate(ctx._to_save)}
    # ctx stays with the node (backward needs it): it must not hold the outputs (a cycle)
    ctx._to_save = ctx._dirty = ctx._non_differentiable = ()
    backward = _backward(cls, ctx, outs, args, None if several else diff[0], len(saved))
    anchor = record(name, outs[diff[0]]._data, inputs, backward, save=saved)
    if any(isinstance(t, _Output) for t in saved.values()):
        # (any saved value may be an output: the node checks each)
        anchor.grad_fn.output = EVERY_OUTPUT  # type: ignore[union-attr]
    for i in diff:
        node = record(name, outs[i]._data, (anchor,), _slot(i, len(outs))).grad_fn \
            if several else anchor.grad_fn
        outs[i].grad_fn, outs[i].requires_grad = node, True
    return outs[0] if not isinstance(out, tuple) else tuple(outs)


def _own_outputs(name: str, ctx: FunctionCtx, inputs: list[Tensor], outs: list[Any]) -> None:
    """Make every tensor output one the node may take: a dirty input takes it (after the
    checks of an in-place op); an input returned as it is, a repeated output or a tensor with
    autograd state of its own is returned as a view of itself."""
    seen: list[Tensor] = []
    for i, o in enumerate(outs):
        if not isinstance(o, Tensor):
            continue
        if any(o is t for t in ctx._dirty):
            if o.requires_grad and o.grad_fn is None:
                raise RuntimeError(f"{name}: a leaf tensor that requires grad ({describe(o)}) "
                                   "has been changed in place by forward (marked dirty); pass "
                                   "a copy (x.clone()) or change it under no_grad outside the "
                                   "Function")
            if o.requires_grad and o._base is not None:
                raise RuntimeError(f"{name}: in-place change (mark_dirty) of a view "
                                   f"({describe(o)}) that requires grad is not supported (the "
                                   "tensor it views would miss the change); change the base")
        elif (any(o is t for t in inputs) or any(o is s for s in seen)
              or o.grad_fn is not None or o.requires_grad):
            view = wrap(o._data, o.device, version=o._version)
            make_view(view, o)
            outs[i] = view
        seen.append(o)


def _saved(t: Any, outs: list[Any], diff: list[int], several: bool) -> Tensor | None:
    """A saved tensor as the node holds it: an output of the node as a twin without its node
    (no reference cycle) that gets it back on unpacking (``graph._Output``)."""
    index = next((i for i in diff if outs[i] is t), None)
    if index is None:
        return t
    twin: Any = _new(_SlotOutput if several else _Output)
    twin._data, twin.device, twin._version = t._data, t.device, t._version
    if several:
        twin.index, twin.count = index, len(outs)
    return twin


class _SlotOutput(_Output):
    """The saved output ``index`` of a Function with several differentiable outputs: under
    create_graph it is reattached through a node of its own, as the output itself was."""
    __slots__ = ("index", "count")

    index: int
    count: int

    def unpack(self, node: Node, create_graph: bool) -> Tensor:
        t = wrap(self._data, self.device, version=self._version)
        if create_graph:
            anchor = wrap(self._data, self.device)
            anchor.grad_fn, anchor.requires_grad = node, True
            own = record(node.op, self._data, (anchor,), _slot(self.index, self.count))
            t.grad_fn, t.requires_grad = own.grad_fn, True
        return t


def _slot(index: int, count: int) -> Backward:
    """The backward of output ``index``'s own node: its gradient, in its slot."""
    def backward(ctx: Context, g: Tensor) -> tuple[Slots]:
        grads: list[Tensor | None] = [None] * count
        grads[index] = g
        return (Slots(grads),)
    return backward


def _backward(cls: type[Function], ctx: FunctionCtx, outs: list[Any], args: tuple[Any, ...],
              only: int | None, saved_count: int) -> Backward:
    """The node's backward: the gradients of the outputs (the one output ``only``, or Slots)
    to ``cls.backward``, and its result checked against the inputs."""
    outputs: list[_Meta] = [(o.shape, o.dtype, o.device) if isinstance(o, Tensor) else None
                            for o in outs]
    inputs: list[_Meta] = [(a.shape, a.dtype, a.device) if isinstance(a, Tensor) else None
                           for a in args]
    name = f"{cls.__name__}Backward"

    def backward(node_ctx: Context, g: Any) -> list[Tensor | None]:
        if only is None:
            grads = list(g.grads)
        else:
            grads = [None] * len(outputs)
            grads[only] = g
        if ctx.materialize_grads:
            grads = [_zeros(*m) if gi is None and m is not None else gi
                     for gi, m in zip(grads, outputs)]
        ctx._saved = tuple(getattr(node_ctx, f"t{i}") for i in range(saved_count))
        try:
            result = cls.backward(ctx, *grads)
        finally:
            ctx._saved = None
        return _check_gradients(name, result, inputs, ctx.needs_input_grad)
    return backward


def _zeros(shape: tuple[int, ...], dtype: Any, device: str) -> Tensor:
    from ..backends import for_device
    return wrap(for_device(device).zeros(shape, dtype=dtype), device)


def _check_gradients(name: str, result: Any, inputs: Sequence[_Meta],
                     needed: Sequence[bool]) -> list[Tensor | None]:
    """One gradient per tensor input (None where none is wanted), as PyTorch checks them: the
    right number, None for non-tensor arguments, a shape the input broadcasts to (summed down
    to it), the input's device; cast to the input's dtype."""
    result = tuple(result) if isinstance(result, (tuple, list)) else (result,)
    n = len(inputs)
    if len(result) > n and all(r is None for r in result[n:]):
        result = result[:n]
    if len(result) != n:
        raise RuntimeError(f"function {name} returned an incorrect number of gradients "
                           f"(expected {n}, got {len(result)})")
    grads: list[Tensor | None] = []
    for i, (g, meta) in enumerate(zip(result, inputs)):
        if meta is None:
            if g is not None:
                raise RuntimeError(f"function {name} returned a gradient different than None "
                                   f"at position {i + 1}, but the corresponding forward input "
                                   "was not a Tensor")
            continue
        grads.append(_check_gradient(name, len(grads), i, g, *meta) if needed[i] else None)
    return grads


def _check_gradient(name: str, index: int, position: int, g: object, shape: tuple[int, ...],
                    dtype: Any, device: str) -> Tensor | None:
    if g is None:
        return None
    if not isinstance(g, Tensor):
        raise RuntimeError(f"function {name} returned {type(g).__name__} as the gradient at "
                           f"position {position + 1}; expected a Tensor or None")
    if g.device != device:
        raise RuntimeError(f"function {name} returned a gradient on {g.device} at position "
                           f"{position + 1} for an input on {device}")
    if g.shape != shape:
        if not _broadcasts(shape, g.shape):
            raise RuntimeError(f"Function {name} returned an invalid gradient at index {index} - "
                               f"got {list(g.shape)} but expected shape compatible with "
                               f"{list(shape)} (the gradient returned at position "
                               f"{position + 1}, {describe(g)})")
        from ..ops.common import sum_to  # (ops import the autograd package)
        g = sum_to(g, shape)
    return g if g.dtype == dtype else g.to(dtype)


def _broadcasts(shape: tuple[int, ...], to: tuple[int, ...]) -> bool:
    """Whether ``shape`` broadcasts to ``to`` (a gradient of shape ``to`` then sums down)."""
    return len(shape) <= len(to) and all(
        s in (1, t) for s, t in zip(reversed(shape), reversed(to)))


def once_differentiable(backward: _F) -> _F:
    """Decorate a Function's ``backward`` that is not itself differentiable (written with raw
    arrays, say): it runs under no_grad, and differentiating its gradients again (under
    create_graph) raises an error naming the Function instead of giving a wrong result."""
    @functools.wraps(backward)
    def wrapper(ctx: FunctionCtx, *grad_outputs: Any) -> Any:
        with no_grad():
            outputs = backward(ctx, *grad_outputs)
        depends = [*grad_outputs, *(ctx._saved or ())]
        if not state.grad_enabled or not any(isinstance(t, Tensor) and t.requires_grad
                                             for t in depends):
            return outputs
        marked = tuple(_delayed_error(o, ctx._name) for o in
                       (outputs if isinstance(outputs, (tuple, list)) else (outputs,)))
        return marked if isinstance(outputs, (tuple, list)) else marked[0]
    return wrapper  # type: ignore[return-value]


def _delayed_error(g: Any, name: str) -> Any:
    """``g`` with a node that raises when a gradient reaches it."""
    if not isinstance(g, Tensor) or not dtypes.is_floating_point(g.dtype):
        return g

    def backward(ctx: Context, g: Tensor) -> tuple[Tensor | None]:
        raise RuntimeError(f"trying to differentiate twice a function that was marked with "
                           f"@once_differentiable ({name}Backward)")
    leaf = g.detach()
    leaf.requires_grad = True
    return record("DelayedError", g._data, (leaf,), backward)
