"""``tensorlite.Size``: the type of ``Tensor.shape`` and ``Tensor.size()``, as ``torch.Size``.

A tuple of ints (equal to and hashing as the plain tuple, unpacking, indexing to ints) that
prints as ``tensorlite.Size([6, 1, 5, 5])``, keeps its type under slicing, ``+`` and ``*``, and
has ``numel()``.
"""
from __future__ import annotations

import operator
from typing import Any, Iterable, SupportsIndex


class Size(tuple):
    __slots__ = ()

    def __new__(cls, sizes: Iterable[Any] = ()) -> "Size":
        sizes = tuple(sizes)
        for i, s in enumerate(sizes):
            if not isinstance(s, int):
                try:
                    operator.index(s)
                except TypeError:
                    raise TypeError(f"tensorlite.Size() takes an iterable of 'int' "
                                    f"(item {i} is '{type(s).__name__}')") from None
        return tuple.__new__(cls, (operator.index(s) for s in sizes))

    def __repr__(self) -> str:
        return f"tensorlite.Size({list(self)})"

    __str__ = __repr__

    def __getitem__(self, key: Any) -> Any:
        item = tuple.__getitem__(self, key)
        return tuple.__new__(Size, item) if isinstance(key, slice) else item

    def __add__(self, other: Any) -> "Size":
        if not isinstance(other, tuple):
            return NotImplemented
        return tuple.__new__(Size, tuple.__add__(self, other))

    def __radd__(self, other: Any) -> "Size":
        if not isinstance(other, tuple):
            return NotImplemented
        return tuple.__new__(Size, tuple.__add__(other, self))

    def __mul__(self, n: SupportsIndex) -> "Size":
        return tuple.__new__(Size, tuple.__mul__(self, n))

    __rmul__ = __mul__

    def numel(self) -> int:
        """The number of elements of a tensor of this shape (1 for ``Size([])``)."""
        n = 1
        for s in self:
            n *= s
        return n

    def __reduce__(self) -> Any:
        return (Size, (tuple(self),))


def _shape(shape: tuple) -> Size:
    """A backend array's shape tuple as a Size (no checks: its entries are ints)."""
    return tuple.__new__(Size, shape)
