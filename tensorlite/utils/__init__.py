"""Debugging helpers."""
from __future__ import annotations

from ..autograd.graph import Node
from ..tensor import Tensor
from .early_stopping import EarlyStopping


def to_dot(tensor: Tensor, name: str = "output") -> str:
    """The graph that produced ``tensor`` as Graphviz DOT text (render with ``dot -Tpng``)."""
    lines = ["digraph tensorlite {", "  node [shape=box, fontname=monospace];",
             f'  out [label="{name}\\n{list(tensor.shape)} {tensor.dtype}", shape=oval];']
    ids: dict[int, str] = {}

    def ident(obj: Node | Tensor) -> str:
        if id(obj) not in ids:
            ids[id(obj)] = f"n{len(ids)}"
            if isinstance(obj, Node):
                lines.append(f'  {ids[id(obj)]} [label="{obj.name}"];')
            else:
                lines.append(f'  {ids[id(obj)]} [label="leaf\\n{list(obj.shape)} {obj.dtype}", '
                             "shape=oval, style=filled, fillcolor=lightblue];")
        return ids[id(obj)]

    root = tensor.grad_fn if tensor.grad_fn is not None else tensor
    lines.append(f"  {ident(root)} -> out;")
    stack: list[Node | Tensor] = [root]
    seen = {id(root)}
    while stack:
        node = stack.pop()
        if not isinstance(node, Node):
            continue
        for nxt in node.next:
            if nxt is None:
                continue
            lines.append(f"  {ident(nxt)} -> {ident(node)};")
            if id(nxt) not in seen:
                seen.add(id(nxt))
                stack.append(nxt)
    lines.append("}")
    return "\n".join(lines)


__all__ = ["to_dot", "EarlyStopping"]
