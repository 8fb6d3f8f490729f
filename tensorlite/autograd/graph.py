"""The tape: one Node per recorded op, linking an output back to the inputs it came from."""
from __future__ import annotations

import traceback
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Union

from ..tensor import Tensor, _HookHandle, wrap
from .grad_mode import flags, state

# An op's backward: ``backward(ctx, g)`` gives one gradient (or None) per input.
Backward = Callable[..., Sequence[Any]]
# Where an input's gradient goes: the node that produced it, the leaf that accumulates it, or
# nowhere (None).
Edge = Union["Node", Tensor, None]


class Node:
    """How to send the gradient of one op's output back to that op's inputs.

    ``backward(ctx, g)`` returns one gradient (or None) per input; ``ctx`` (a ``Context``) holds
    the saved values by name and ``needs_input_grad`` (a node that saved nothing is its own
    ctx: the engine then makes no Context).  It is written with tensor ops, so under
    ``create_graph=True`` it is itself recorded and can be differentiated again.
    ``next`` holds, per input, the Node that produced it, the leaf tensor that accumulates
    its gradient, or None when no gradient is wanted.  Nodes are made only by ``record``.
    ``op`` is the op's name ("mul"); ``name`` is the same string, and ``name()`` gives the
    node's name as PyTorch's ``grad_fn.name()`` does ("MulBackward0").
    """

    __slots__ = ("op", "backward", "next", "needs_input_grad", "saved", "versions", "output",
                 "hooks", "retained", "trace")
    op: str
    backward: Backward | None
    next: list[Edge]
    saved: dict[str, Any] | None
    versions: Sequence[int | None]
    needs_input_grad: tuple[bool, ...]  # per input, whether it wants a gradient (as a ctx's)
    output: str | None  # the name its own output is saved under (EVERY_OUTPUT: a Function's)
    hooks: list[Callable[[Any], Any]] | None
    retained: Callable[[], Tensor | None] | None
    trace: str | None

    def __repr__(self) -> str:
        return f"<{self.name()}>"

    @property
    def name(self) -> _Name:
        return _Name(self.op)

    @property
    def next_functions(self) -> tuple[tuple[Node | AccumulateGrad | None, int], ...]:
        """Per input, ``(node, 0)``: the Node that produced it, an ``AccumulateGrad`` for a leaf
        that requires grad, or None (PyTorch's ``grad_fn.next_functions``)."""
        return tuple((AccumulateGrad(e) if isinstance(e, Tensor) else e, 0) for e in self.next)

    def register_prehook(self, hook: Callable[[tuple[Tensor | None, ...]], Any]
                         ) -> _HookHandle:
        """``hook(grad_outputs)`` before this node's backward; a returned tuple replaces them."""
        def prehook(g: Any) -> Any:
            new = hook(tuple(g.grads) if isinstance(g, Slots) else (g,))
            return None if new is None else Slots(list(new)) if isinstance(g, Slots) else new[0]
        hooks = self.hooks = self.hooks or []
        hooks.append(prehook)
        return _HookHandle(hooks, prehook)

    def register_hook(self, hook: Callable[[tuple[Any, ...], tuple[Any, ...]], Any]
                      ) -> _HookHandle:
        """``hook(grad_inputs, grad_outputs)`` after this node's backward; a returned tuple
        replaces the gradients it sends to its inputs."""
        if self.backward is None:
            raise RuntimeError(f"{self.name()}.register_hook: the graph was freed by a backward; "
                               "use retain_graph=True")
        post = getattr(self.backward, "post_hooks", None)
        if post is None:
            inner, post = self.backward, []

            def backward(ctx: Context, g: Any) -> tuple[Any, ...]:
                grads = tuple(inner(ctx, g))
                for h in post:
                    new = h(grads, tuple(g.grads) if isinstance(g, Slots) else (g,))
                    if new is not None:
                        grads = tuple(new)
                return grads
            backward.post_hooks = post  # type: ignore[attr-defined]
            self.backward = backward
        post.append(hook)
        return _HookHandle(post, hook)

    def context(self, create_graph: bool) -> Context:
        """What the backward receives: the saved values by name, checked against in-place
        changes since the op recorded them, and which inputs need a gradient."""
        if self.backward is None:
            raise RuntimeError(
                f"{self.op}: trying to backward through the graph a second time (or to use "
                "saved tensors after they have been freed). Specify retain_graph=True on the "
                "first backward() or autograd.grad() call if you need to backward twice.")
        ctx = _new_context(Context)
        saved = self.saved
        if saved is not None:  # (this runs once per op of every backward: written for speed)
            for t, v in zip(saved.values(), self.versions):
                if v is not None and t._version[0] != v:
                    raise RuntimeError(
                        f"{self.op}: one of the tensors needed for gradient computation has "
                        f"been modified by an inplace operation: a tensor of shape "
                        f"{list(t.shape)} is at version {t._version[0]}, expected version {v}. "
                        "Use an out-of-place op (or .clone() it) before changing it.")
            output = self.output
            if output is not None:  # the op's own output(s), reattached to this node
                if output is EVERY_OUTPUT:  # (a Function: any saved value may be an output)
                    saved = {k: t.unpack(self, create_graph) if isinstance(t, _Output) else t
                             for k, t in saved.items()}
                elif create_graph:  # (without, the twin serves as it is: a tensor, no history)
                    saved = {**saved, output: saved[output].unpack(self, create_graph)}
            ctx.__dict__ = saved
        ctx.needs_input_grad = self.needs_input_grad
        return ctx


EVERY_OUTPUT = "*"  # a node's ``output`` when any of its saved values may be its own output


class Context:
    """An op's backward context: ``needs_input_grad`` (per input, whether the engine wants its
    gradient, as a custom Function's ``ctx``) and each saved value under the name it was saved
    with (``ctx.x``; the attributes are the node's own record of them: read, never set)."""
    __slots__ = ("needs_input_grad", "__dict__")
    needs_input_grad: tuple[bool, ...]

    if TYPE_CHECKING:  # the saved values, by name
        def __getattr__(self, name: str) -> Any: ...


_new_context = Context.__new__


class _Output(Tensor):
    """An op's own output saved for its backward, held without its grad_fn (no reference cycle)
    and reattached to the node on unpacking under create_graph, so the saved output stays
    differentiable; a backward that records nothing reads the twin itself."""
    __slots__ = ()

    def unpack(self, node: Node, create_graph: bool) -> Tensor:
        t = wrap(self._data, self.device, version=self._version)
        if create_graph:
            t.grad_fn, t.requires_grad = node, True
        return t


# ops whose PyTorch node is named otherwise than the op's name in CamelCase ("log_softmax":
# LogSoftmaxBackward0); a composed op shows the node of its last recorded step, as PyTorch's
_TORCH_NODE = {"matmul": "Mm", "reshape": "View", "to": "ToCopy", "contiguous": "Clone",
               "layer_norm": "NativeLayerNorm", "conv1d": "Convolution", "conv2d": "Convolution",
               "conv3d": "Convolution"}


class _Name(str):
    """An op's name that, called, gives its node's name as PyTorch's ``grad_fn.name()``:
    ``node.name == "mul"``, ``node.name() == "MulBackward0"``; a custom Function's node (named
    after its class) gives "<Class>Backward"."""
    __slots__ = ()

    def __call__(self) -> str:
        if self[:1].isupper():
            return f"{self}Backward"
        base = _TORCH_NODE.get(self) or "".join(p[:1].upper() + p[1:] for p in self.split("_"))
        return f"{base}Backward0"


class AccumulateGrad:
    """How ``next_functions`` shows a leaf that requires grad: its gradient is accumulated into
    ``variable.grad`` (PyTorch's AccumulateGrad node)."""
    __slots__ = ("variable",)
    next_functions = ()

    def __init__(self, variable: Tensor) -> None:
        self.variable = variable

    def __repr__(self) -> str:
        return "<AccumulateGrad>"

    def name(self) -> str:
        return "AccumulateGrad"


class Slots:
    """The gradients of the outputs of an op with several differentiable outputs (a custom
    Function), one slot each (None: no gradient reached that output); gradients reaching the
    op from different outputs add slot by slot."""
    __slots__ = ("grads",)

    def __init__(self, grads: list[Tensor | None]) -> None:
        self.grads = grads

    def __add__(self, other: Slots) -> Slots:
        return Slots([b if a is None else a if b is None else a + b
                      for a, b in zip(self.grads, other.grads)])


_new = Tensor.__new__
_new_node = Node.__new__


def rebase(view: Tensor) -> None:
    from ..ops.inplace import rebase as rebase_view  # (the ops package imports this module)
    rebase_view(view)


_ALL_WANTED = [(True,) * n for n in range(64)]  # needs_input_grad when every input wants one


def record(name: str, data: Any, inputs: Sequence[Any], backward: Backward,
           save: dict[str, Any] | None = None, output: str | None = None,
           view_of: Tensor | None = None) -> Tensor:
    """Wrap ``data`` (the backend result of op ``name`` on ``inputs``) as a tensor, and put the op
    on the tape when grad mode is on and an input requires grad.

    ``backward(ctx, g)`` returns one gradient per input (None where ``ctx.needs_input_grad``
    says none is wanted).  ``save`` maps names to the values backward reads (``ctx.x``);
    tensors among them are version-checked.  ``output`` names the op's own output when backward
    needs it.  The output's device is the first tensor input's.  A view shares its base's
    version counter (``view_of``), so an in-place change to either is seen by both.
    This runs for every op, so it is written for speed.
    """
    first = inputs[0]
    out = _new(Tensor)
    out._data = data
    out.device = first.device if isinstance(first, Tensor) else inputs[1].device
    out._grad = out.grad_fn = out._hooks = None
    if view_of is None:
        out._version, out._base, out._seen = [0], None, None
    else:
        base = view_of._base
        if base is None:
            base = view_of
        out._version, out._base, out._seen = view_of._version, base, base.grad_fn
    out.requires_grad = False
    if state.grad_enabled:
        edges: list[Edge] = []  # per input: its Node, the leaf that takes its gradient, or None
        wanted = missing = False  # whether some input wants a gradient, and some none
        for t in inputs:
            if isinstance(t, Tensor):
                base = t._base
                if base is not None and base.grad_fn is not t._seen:
                    rebase(t)  # a view whose base was changed in place since its history
                node = t.grad_fn
                if node is not None:
                    edges.append(node)
                    wanted = True
                    continue
                if t.requires_grad:
                    edges.append(t)
                    wanted = True
                    continue
            edges.append(None)
            missing = True
        if wanted:
            # (comprehensions cost a frame each: the common one- and two-input cases, and the
            # saved values' version snapshots, are written out)
            n = len(edges)
            needs = (_ALL_WANTED[n] if n < 64 else (True,) * n) if not missing else \
                (edges[0] is not None, edges[1] is not None) if n == 2 else \
                tuple([e is not None for e in edges])
            if output is not None:
                twin = _new(_Output)  # a whole tensor without history (see Node.context)
                twin._data, twin.device, twin._version = data, out.device, out._version
                twin._grad = twin.grad_fn = twin._hooks = twin._base = twin._seen = None
                twin.requires_grad = False
                save = {**save, output: twin} if save else {output: twin}
            node = _new_node(Node)
            node.op, node.backward, node.next, node.needs_input_grad, node.saved, node.output = \
                name, backward, edges, needs, save, output
            if not save:
                node.versions = ()
            else:
                values = tuple(save.values())
                first = values[0]
                v = first._version[0] if isinstance(first, Tensor) else None
                if len(values) == 1:
                    node.versions = (v,)
                elif len(values) == 2:
                    second = values[1]
                    node.versions = (v, second._version[0] if isinstance(second, Tensor) else None)
                else:
                    node.versions = [t._version[0] if isinstance(t, Tensor) else None
                                     for t in values]
            node.hooks = node.retained = None
            node.trace = "".join(traceback.format_stack()[:-1]) if flags.anomaly else None
            out.requires_grad = True
            out.grad_fn = node
    return out
