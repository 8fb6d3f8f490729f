"""The tape: one Node per recorded op, linking an output back to the inputs it came from."""
import traceback

from ..tensor import Tensor, wrap
from .grad_mode import flags, state


class Node:
    """How to send the gradient of one op's output back to that op's inputs.

    ``backward(g, *saved)`` returns one gradient (or None) per input; it is written with tensor
    ops, so under ``create_graph=True`` it is itself recorded and can be differentiated again.
    ``next`` holds, per input, the Node that produced it, the leaf tensor that accumulates
    its gradient, or None when no gradient is wanted.  Nodes are made only by ``record``.
    """

    __slots__ = ("name", "backward", "next", "saved", "versions", "hooks", "retained", "trace")

    def __repr__(self):
        return f"<{self.name}Backward>"

    def unpack(self, create_graph):
        """The saved tensors, checked against in-place changes since the op recorded them."""
        if self.backward is None:
            raise RuntimeError(
                f"{self.name}: trying to backward through the graph a second time (or to use "
                "saved tensors after they have been freed). Specify retain_graph=True on the "
                "first backward() or autograd.grad() call if you need to backward twice.")
        out = []
        for t, v in zip(self.saved, self.versions):
            if v is not None and t._version[0] != v:
                raise RuntimeError(
                    f"{self.name}: one of the tensors needed for gradient computation has been "
                    f"modified by an inplace operation: a tensor of shape {list(t.shape)} is at "
                    f"version {t._version[0]}, expected version {v}. Use an out-of-place op "
                    "(or .clone() it) before changing it.")
            if isinstance(t, _Output):
                t = t.unpack(self, create_graph)
            out.append(t)
        return out


class _Output(Tensor):
    """An op's own output saved for its backward, held without its grad_fn (no reference cycle)
    and reattached to the node on unpacking, so the saved output stays differentiable."""
    __slots__ = ()

    def unpack(self, node, create_graph):
        t = wrap(self._data, self.device, version=self._version)
        if create_graph:
            t.grad_fn, t.requires_grad = node, True
        return t


_new = Tensor.__new__
_new_node = Node.__new__


def record(name, data, inputs, backward, saved=(), keep_output=False, view_of=None):
    """Wrap ``data`` (the backend result of op ``name`` on ``inputs``) as a tensor, and put the op
    on the tape when grad mode is on and an input requires grad.

    ``backward(g, *saved)`` (plus the output, appended to ``saved``, when ``keep_output``) returns
    one gradient per input.  The output's device is the first tensor input's.  A view shares
    its base's version counter (``view_of``), so an in-place change to either is seen by both.
    This runs for every op, so it is written for speed.
    """
    first = inputs[0]
    out = _new(Tensor)
    out._data = data
    out.device = first.device if isinstance(first, Tensor) else inputs[1].device
    out._grad = out.grad_fn = out._hooks = None
    if view_of is None:
        out._version, out._base = [0], None
    else:
        base = view_of._base
        out._version, out._base = view_of._version, view_of if base is None else base
    out.requires_grad = False
    if state.grad_enabled:
        edges, wanted = [], False  # per input: its Node, the leaf that takes its grad, or None
        for t in inputs:
            if isinstance(t, Tensor) and (t.grad_fn is not None or t.requires_grad):
                edges.append(t.grad_fn or t)
                wanted = True
            else:
                edges.append(None)
        if wanted:
            if keep_output:
                twin = _new(_Output)
                twin._data, twin.device, twin._version = data, out.device, out._version
                saved = (*saved, twin)
            node = _new_node(Node)
            node.name, node.backward, node.next, node.saved = name, backward, edges, saved
            node.versions = [t._version[0] if isinstance(t, Tensor) else None for t in saved] \
                if saved else ()
            node.hooks = node.retained = None
            node.trace = "".join(traceback.format_stack()[:-1]) if flags.anomaly else None
            out.requires_grad = True
            out.grad_fn = node
    return out
