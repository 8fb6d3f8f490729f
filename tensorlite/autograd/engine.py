"""Backward: replay the tape in reverse, iteratively (no recursion limit on deep graphs)."""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from sys import getrefcount
from typing import Any, Union

from .. import _capture_hooks
from ..backends import active, for_device
from ..tensor import PostAccumulateGradHook, Tensor, describe, wrap
from .grad_mode import enable_grad, flags, no_grad
from .graph import Node, Slots


# A gradient as the engine carries it: a tensor, or the Slots of a Function's outputs.
Grad = Union[Tensor, Slots]


def _seed_grads(outputs: Sequence[Tensor], grad_outputs: Sequence[Tensor | None] | None
                ) -> list[Tensor]:
    grads = []
    for i, out in enumerate(outputs):
        g = None if grad_outputs is None else grad_outputs[i]
        if g is None:
            if out.numel() != 1:
                raise RuntimeError(
                    f"backward: grad can be implicitly created only for scalar outputs; the "
                    f"output is {describe(out)}: pass gradient= (a tensor of its shape)")
            g = wrap(out.backend.ones(out.shape, dtype=out.dtype), out.device)
        elif not isinstance(g, Tensor):
            raise TypeError(f"backward: gradient must be a Tensor, got {type(g).__name__}")
        elif g.shape != out.shape or g.device != out.device:
            raise RuntimeError(f"backward: gradient is {describe(g)} but the output is "
                               f"{describe(out)}; they must match")
        elif g.dtype != out.dtype:  # as PyTorch: the gradient takes the output's dtype
            g = g.to(out.dtype)
        grads.append(g)
    return grads


def _count_dependencies(roots: Sequence[Node | Tensor]) -> dict[Node, int]:
    """How many edges reach each node of the graph below ``roots``."""
    deps: dict[Node, int] = {}
    stack: list[Node] = [r for r in roots if type(r) is Node]
    first = set(stack)  # the roots: visited already, whether or not another root reaches them
    while stack:
        node = stack.pop()
        if node.backward is None:
            node.context(False)  # raises the "backward a second time" error
        for nxt in node.next:
            if type(nxt) is Node:
                count = deps.get(nxt)
                if count is not None:
                    deps[nxt] = count + 1
                else:  # reached for the first time: visit it
                    deps[nxt] = 1
                    if nxt not in first:
                        stack.append(nxt)
    return deps


def _hooks_and_retained(node: Node, g: Any, create_graph: bool) -> Any:
    """A non-leaf's hooks may replace its gradient; retain_grad() keeps it in ``.grad``."""
    if node.hooks:
        g = _run_hooks(node.hooks, g)
    if node.retained is not None and (t := node.retained()) is not None:
        t.grad = (g if create_graph else g.detach()) if t.grad is None else t.grad + g
    return g


def _run_hooks(hooks: Iterable[Callable[[Any], Any]], g: Any) -> Any:
    for hook in hooks:
        if type(hook) is PostAccumulateGradHook:
            continue  # runs after the leaf's .grad was accumulated, not on its gradient
        new = hook(g)
        if new is not None:
            g = new
    return g


def _check_finite(node: Node, grads: Sequence[Any]) -> None:
    for i, g in enumerate(grads):
        if isinstance(g, Tensor) and not g.backend.isfinite(g._data).all():
            raise RuntimeError(
                f"detect_anomaly: '{node.name}Backward' returned non-finite values in its "
                f"gradient for input {i}. The forward op '{node.name}' was created at:\n"
                f"{node.trace or '(not recorded: the op was created outside detect_anomaly)'}")


def execute(outputs: Sequence[Tensor], grad_outputs: Sequence[Tensor | None] | None,
            retain_graph: bool | None, create_graph: bool,
            capture: Sequence[Tensor] | None = None) -> dict[Node | int, Tensor | None]:
    """Run backward from ``outputs``.  Without ``capture``, leaf gradients accumulate into
    ``.grad``; with it (a list of tensors), their gradients are returned instead."""
    grads = _seed_grads(outputs, grad_outputs)
    if retain_graph is None:
        retain_graph = create_graph
    roots = [o.grad_fn if o.grad_fn is not None else o for o in outputs]
    for o in outputs:
        if not o.requires_grad:
            raise RuntimeError(f"backward: element of {describe(o)} does not require grad and "
                               "has no grad_fn; call requires_grad_() on a leaf first")
    deps = _count_dependencies(roots)
    captured: dict[Node | int, Any] = {} if capture is None else {_key(t): None for t in capture}
    buffers: dict[Node | int, Any] = {}  # node, or id(leaf), -> the gradient summed so far
    leaves: dict[int, Any] = {}  # id(leaf) -> the leaf
    for root, g in zip(roots, grads):
        _accumulate(buffers, leaves, root, g, create_graph)
    ready = [r for r in dict.fromkeys(roots) if type(r) is Node and deps.get(r, 0) == 0]
    anomaly, capturing = flags.anomaly, capture is not None
    in_grads: Sequence[Any] | None
    pop_ready, push_ready, pop_buffer, get_buffer = ready.pop, ready.append, buffers.pop, buffers.get
    with (enable_grad() if create_graph else no_grad()):
        while ready:  # the hot loop: one pass per recorded op, so locals and few branches
            node = pop_ready()
            g = pop_buffer(node, None)
            if g is None:  # every gradient that reached this node was None: it sends none on,
                in_grads = [None] * len(node.next)  # but its inputs' dependencies still count down
            else:
                if node.hooks is not None or node.retained is not None:
                    g = _hooks_and_retained(node, g, create_graph)
                if capturing and node in captured:
                    captured[node] = g
                # With nothing saved, the node is its own context (it has needs_input_grad).
                ctx = node if node.saved is None and node.backward is not None else \
                    node.context(create_graph)
                in_grads = node.backward(ctx, g)  # type: ignore[misc]
                if anomaly:
                    _check_finite(node, in_grads)
            # A None gradient still counts down its input's dependencies, or that input's node
            # would never run and every gradient behind it would be lost.
            for nxt, gi in zip(node.next, in_grads):
                if type(nxt) is Node:
                    if gi is not None:
                        prev = get_buffer(nxt)
                        buffers[nxt] = gi if prev is None else _add(prev, gi, create_graph)
                    left = deps[nxt] - 1
                    deps[nxt] = left
                    if not left:
                        push_ready(nxt)
                elif nxt is not None and gi is not None:  # a leaf (_accumulate, inline)
                    key = id(nxt)
                    leaves[key] = nxt
                    prev = get_buffer(key)
                    buffers[key] = gi if prev is None else _add(prev, gi, create_graph)
            if not retain_graph:
                node.backward, node.saved, node.versions = None, None, ()
        in_grads = gi = None  # let go of the last node's gradients (_owned counts references)
        for key, leaf in leaves.items():
            g = pop_buffer(key)
            if leaf._hooks:
                g = _run_hooks(leaf._hooks, g)
            if capture is not None:
                if key in captured:
                    captured[key] = g
            else:
                _accumulate_into_leaf(leaf, g, create_graph)
    return captured


def _key(t: Tensor) -> Node | int:
    return t.grad_fn if t.grad_fn is not None else id(t)


def _accumulate(buffers: dict[Any, Any], leaves: dict[Any, Any], target: Node | Tensor, g: Any,
                create_graph: bool) -> None:
    key = target if type(target) is Node else id(target)
    if type(target) is not Node:
        leaves[key] = target
    prev = buffers.get(key)
    buffers[key] = g if prev is None else _add(prev, g, create_graph)


def _add(a: Any, b: Any, create_graph: bool) -> Any:
    """The sum of two gradients; a plain backend add unless it must be recorded (or is not a
    plain tensor: the Slots of a custom Function's outputs add themselves).  Into ``a``'s own
    memory when the engine holds the only reference to it (counted as in ``_owned``: to ``a``,
    the buffer dict, _accumulate's local, this parameter and getrefcount's argument; to its
    array, ``a``, this name and the argument): a residual stream's gradient then costs no new
    array per contribution."""
    if create_graph or type(a) is not Tensor:
        return a + b
    backend = active.get(a.device) or for_device(a.device)
    data, other = a._data, b._data
    if (getrefcount(a) == 4 and getrefcount(data) == 3 and type(b) is Tensor
            and data.shape == other.shape and data.dtype == other.dtype
            and not a.requires_grad and backend.private(data)):
        backend.iadd(data, other)
        return a
    return wrap(backend.add(data, other), a.device)


def _accumulate_into_leaf(leaf: Tensor, g: Tensor, create_graph: bool) -> None:
    if _capture_hooks.active:  # (tensorlite.compile: the leaf's .grad is about to change)
        _capture_hooks.leaf(leaf)
    if create_graph:
        leaf._grad = g if leaf._grad is None else leaf._grad + g
    elif leaf.grad is None:
        # .grad must own its memory: optimizers and clip_grad_ update it in place, so it may
        # share storage neither with a broadcast view nor with another tensor's gradient.
        leaf._grad = g if _owned(g) else wrap(g.backend.copy(g._data), g.device)
    else:
        g.backend.iadd(leaf.grad._data, g._data)
        leaf.grad._version[0] += 1
    if leaf._hooks:
        for hook in leaf._hooks:
            if type(hook) is PostAccumulateGradHook:
                hook.fn(leaf)


def _owned(g: Tensor) -> bool:
    """Whether gradient ``g`` can become a ``.grad`` as it is, instead of a copy: nothing outside
    the engine references it or its array, and the backend says no other array shares that
    memory (``Backend.private``).  Counted references: to ``g``, execute's local,
    _accumulate_into_leaf's and this function's parameters and getrefcount's argument; to its
    array, ``g``, this name and getrefcount's argument.  Any other holder (a user's tensor, a
    saved value, a second leaf) makes the count higher, and the gradient is copied."""
    data = g._data
    return (getrefcount(g) == 4 and getrefcount(data) == 3 and not g.requires_grad
            and g.backend.private(data))


def backward(tensors: Sequence[Tensor], grad_tensors: Sequence[Tensor | None] | None = None,
             retain_graph: bool | None = None, create_graph: bool = False,
             inputs: Tensor | Iterable[Tensor] | None = None) -> None:
    """Accumulate d(tensors)/d(leaf) into every leaf's ``.grad`` (``inputs`` narrows the leaves)."""
    if inputs is not None:
        inputs = tuple(inputs)
        got = execute(tensors, grad_tensors, retain_graph, create_graph, capture=inputs)
        for t in inputs:
            g = got[_key(t)]
            if g is not None:
                _accumulate_into_leaf(t, g, create_graph)
        return
    execute(tensors, grad_tensors, retain_graph, create_graph)


def grad(outputs: Tensor | Sequence[Tensor], inputs: Tensor | Sequence[Tensor],
         grad_outputs: Tensor | Sequence[Tensor | None] | None = None,
         retain_graph: bool | None = None, create_graph: bool = False,
         allow_unused: bool = False) -> tuple[Tensor | None, ...]:
    """The gradients of ``outputs`` with respect to ``inputs``, returned (``.grad`` untouched)."""
    single = isinstance(inputs, Tensor)
    outputs = (outputs,) if isinstance(outputs, Tensor) else tuple(outputs)
    inputs = (inputs,) if single else tuple(inputs)  # type: ignore[assignment]
    if isinstance(grad_outputs, Tensor):
        grad_outputs = (grad_outputs,)
    for t in inputs:  # type: ignore[union-attr]
        if not t.requires_grad:
            raise RuntimeError(f"grad: one of the inputs ({describe(t)}) does not require grad")
    got = execute(outputs, grad_outputs, retain_graph, create_graph,
                  capture=inputs)  # type: ignore[arg-type]
    result = []
    for i, t in enumerate(inputs):
        g = got[_key(t)]
        if g is None and not allow_unused:
            raise RuntimeError(
                f"grad: input {i} ({describe(t)}) was not used in the graph of the outputs; "
                "pass allow_unused=True if this is intended")
        if g is not None and not create_graph:
            g = g.detach()
        result.append(g)
    return tuple(result)
