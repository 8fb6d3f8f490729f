"""Sparse COO tensors, as graph networks use them: build one (``sparse_coo_tensor``,
``Tensor.to_sparse``), look inside (``indices``, ``values``, ``coalesce``, ``to_dense``) and
multiply it with a dense matrix (``tensorlite.sparse.mm``, ``tensorlite.spmm``, ``S @ D``,
``S.mm``/``S.matmul``), with gradients flowing to the dense operand and to the values.

A ``SparseTensor`` holds an int64 index tensor (ndim, nnz) and a 1-D values tensor (nnz,); a
position may be stored more than once (an uncoalesced tensor) and then stands for the sum of its
values, as in PyTorch.  The values tensor is an ordinary tensor on the tape: every sparse op is
recorded on it, so a gradient reaches whatever produced the values (edge weights of a graph, a
leaf made with ``requires_grad=True``).  The kernels are backend primitives (``coo_coalesce``,
``coo_to_dense``, ``coo_matmul``: SciPy on the CPU backends, cupyx.scipy.sparse on cupy).

Supported: the constructors above, ``shape``/``size``/``dim``/``dtype``/``device``/``layout``,
``is_sparse``, ``is_coalesced``, ``coalesce``, ``indices``/``values`` (coalesced),
``_indices``/``_values``, ``_nnz``, ``sparse_dim``/``dense_dim``, ``to_dense``, ``to``/``cpu``/
``cuda``/``float``/``double``/``half``, ``detach``, ``clone``, ``requires_grad_``, ``grad``, ``t``
and ``transpose`` (2-D), multiplication and division by a Python number, negation, and the
2-D sparse @ dense product (a 1-D dense operand too).  Anything else raises NotImplementedError
naming the op and suggesting ``.to_dense()``.
"""
from __future__ import annotations

import math
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from . import dtypes
from .autograd.graph import record
from .backends import for_device
from .size import Size, _shape
from .tensor import Tensor, _bool, _int, describe, layout, sparse_coo, wrap

if TYPE_CHECKING:
    import numpy as np
    from typing_extensions import Self

    from .autograd.graph import Context, Node
    from .dtypes import DTypeLike
    from .tensor import DeviceLike

__all__ = ["SparseTensor", "sparse_coo_tensor", "mm", "spmm", "matmul", "from_dense", "FloatTensor",
           "DoubleTensor", "HalfTensor", "LongTensor", "IntTensor", "BoolTensor"]

SUPPORTED = ("sparse @ dense (tensorlite.sparse.mm, tensorlite.spmm, S @ D, S.mm, S.matmul), "
             "to_dense, coalesce, indices, values, t, transpose, to, detach, clone, and "
             "multiplication or division by a number")


_GENERIC = {"fn", "forward", "method", "wrapper", "inner", "call", "apply", "op"}


def _unsupported(what: str, t: Tensor | None = None, hint: str = "") -> NotImplementedError:
    return NotImplementedError(
        f"{what}: not supported for sparse COO tensors"
        + (f" ({describe(t)}, layout=tensorlite.sparse_coo)" if t is not None else "")
        + f"; {hint or 'convert with .to_dense() first'} (sparse tensors support: {SUPPORTED})")


class SparseTensor(Tensor):
    """A sparse COO tensor (``layout == tensorlite.sparse_coo``); build one with
    ``tensorlite.sparse_coo_tensor`` or ``Tensor.to_sparse``."""
    __slots__ = ("_idx", "_vals", "_size", "_coalesced")
    is_sparse = True
    _idx: Tensor
    _vals: Tensor
    _size: tuple[_int, ...]
    _coalesced: _bool

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("SparseTensor: build a sparse tensor with tensorlite.sparse_coo_tensor("
                        "indices, values, size) or dense.to_sparse()")

    @classmethod
    def _make(cls, indices: Tensor, values: Tensor, size: Sequence[_int], coalesced: _bool = False
              ) -> SparseTensor:
        t = Tensor.__new__(cls)
        t._idx, t._vals, t._size, t._coalesced = indices, values, tuple(size), coalesced
        t.device, t._version, t._hooks, t._base = values.device, values._version, None, None
        t._grad = None  # (the gradient lives on the values: see grad)
        return t

    # -- state ----------------------------------------------------------------------------------
    @property
    def _data(self) -> NoReturn:
        # Reached by a dense op given a sparse tensor: none of them takes one.  Name the op: the
        # outermost registered op calling (only on this error path).
        from .ops.registry import REGISTRY
        frame: Any
        code: Any
        frame, name, outer = sys._getframe(1), None, None
        for _ in range(16):  # the outermost op of tensorlite's own (mm, not the matmul it calls)
            if frame is None or not frame.f_globals.get("__name__", "").startswith("tensorlite"):
                break
            code = frame.f_code.co_name
            if code in _GENERIC:  # an op built by a factory keeps its name in the closure
                code = frame.f_locals.get("name")
                code = code if isinstance(code, str) else "_"
            if code in REGISTRY:
                name = code
            elif not code.startswith(("_", "<")):
                outer = code  # else the outermost public function (save, ...)
            frame = frame.f_back
        name = name or outer
        hint = ("for sparse @ dense use tensorlite.sparse.mm(S, D), tensorlite.spmm(S, D) or "
                "S @ D; otherwise convert with .to_dense() first"
                if name in ("mm", "matmul", "bmm", "addmm", "dot", "mv") else "")
        raise _unsupported(name or "this dense op", self, hint)

    @property
    def shape(self) -> Size:
        return _shape(self._size)

    @property
    def dtype(self) -> np.dtype:
        return self._vals.dtype

    @property
    def ndim(self) -> _int:
        return len(self._size)

    @property
    def layout(self) -> layout:
        return sparse_coo

    @property
    def requires_grad(self) -> _bool:
        return self._vals.requires_grad or self._vals.grad_fn is not None

    @requires_grad.setter
    def requires_grad(self, value: _bool) -> None:
        self._vals.requires_grad_(value)

    @property
    def grad_fn(self) -> Node | None:  # type: ignore[override]
        return self._vals.grad_fn

    @property
    def grad(self) -> SparseTensor | None:
        """The gradient of a sparse leaf: a sparse tensor at its (coalesced) positions, holding
        the gradient of each position (as torch.sparse.mm leaves it), or None."""
        g = self._vals.grad
        if g is None:
            return None
        if self._coalesced:
            return SparseTensor._make(self._idx, g, self._size, True)
        unique, inverse = self._groups()
        # every copy of a position receives the same gradient: their mean is that gradient
        from .ops.indexing import index_add
        ones = wrap(self.backend.ones(g.shape, dtype=g.dtype), g.device)
        count = index_add(ones, (unique.shape[1],), inverse._data)
        return SparseTensor._make(unique, index_add(g, (unique.shape[1],), inverse._data) / count,
                                  self._size, True)

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        if value is not None:
            raise NotImplementedError("grad: only None can be assigned to the gradient of a "
                                      "sparse tensor (its values hold it: S._values().grad)")
        self._vals.grad = None

    def size(self, dim: _int | None = None) -> Any:
        return self._size if dim is None else self._size[dim]

    def dim(self) -> _int:
        return len(self._size)

    def numel(self) -> _int:
        return math.prod(self._size)

    def __len__(self) -> _int:
        if not self._size:
            raise TypeError("len() of a 0-d tensor")
        return self._size[0]

    def sparse_dim(self) -> _int:
        return len(self._size)

    def dense_dim(self) -> _int:
        return 0

    def _nnz(self) -> _int:
        return self._vals.shape[0]

    def is_coalesced(self) -> _bool:
        return self._coalesced

    def _indices(self) -> Tensor:
        return self._idx

    def _values(self) -> Tensor:
        return self._vals

    def indices(self) -> Tensor:
        self._need_coalesced("indices")
        return self._idx

    def values(self) -> Tensor:
        self._need_coalesced("values")
        return self._vals

    def _need_coalesced(self, what: str) -> None:
        if not self._coalesced:
            raise RuntimeError(f"Cannot get {what} on an uncoalesced tensor, please call "
                               f".coalesce() first (or ._{what}() for the stored {what}, "
                               "repeated positions included)")

    def __repr__(self) -> str:
        extras = f"size={self._size}, nnz={self._nnz()}"
        if self.dtype != dtypes.get_default_dtype() and dtypes.kind(self.dtype) == 2 or \
                dtypes.kind(self.dtype) < 2 and self.dtype != self._vals.dtype:
            extras += f", dtype=tensorlite.{self.dtype}"
        if self.device != "cpu":
            extras += f", device='{self.device}'"
        extras += ", layout=tensorlite.sparse_coo"
        if self.grad_fn is not None:
            extras += f", grad_fn=<{self.grad_fn.name}Backward>"
        elif self.requires_grad:
            extras += ", requires_grad=True"
        pad = " " * 7
        idx = repr(self._idx).replace("\n", "\n" + pad + " " * 8)
        vals = repr(self._vals.detach()).replace("\n", "\n" + pad + " " * 7)
        return f"tensor(indices={idx},\n{pad}values={vals},\n{pad}{extras})"

    def __format__(self, format_spec: str) -> str:
        if format_spec:
            raise TypeError(f"unsupported format string {format_spec!r} for a sparse tensor")
        return repr(self)

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:
        return (_rebuild, (self._idx, self._vals.detach(), self._size, self._coalesced))

    # -- conversion -----------------------------------------------------------------------------
    def _groups(self) -> tuple[Tensor, Tensor]:
        """``(unique, inverse)`` index tensors: the distinct positions, and each stored value's."""
        unique, inverse = self.backend.coo_coalesce(self._idx._data, self._size)
        return wrap(unique, self.device), wrap(inverse, self.device)

    def coalesce(self) -> SparseTensor:
        """The same tensor with each position stored once (values summed), in row-major order;
        the gradient of each original value is the gradient of its position."""
        if self._coalesced:
            return self
        unique, inverse = self._groups()
        vals, B = self._vals, self.backend
        summed = B.index_add((unique.shape[1],), vals.dtype, inverse._data, vals._data)
        out = record("coalesce", summed, (vals,), lambda ctx, g: (g[ctx.inverse],),
                     save={"inverse": inverse})
        return SparseTensor._make(unique, out, self._size, True)

    def to_dense(self, dtype: DTypeLike | None = None) -> Tensor:
        """The dense tensor: zeros with each stored value added at its position."""
        if dtype is not None and dtypes.as_dtype(dtype) != self.dtype:
            return self.to(dtype).to_dense()
        vals, idx = self._vals, self._idx
        data = self.backend.coo_to_dense(idx._data, vals._data, self._size)
        return record("to_dense", data, (vals,),
                      lambda ctx, g: (g[tuple(ctx.idx[d] for d in range(ctx.idx.shape[0]))],),
                      save={"idx": idx})

    def to_sparse(self, sparse_dim: _int | None = None) -> SparseTensor:
        if sparse_dim is not None and sparse_dim != self.ndim:
            raise _unsupported(f"to_sparse(sparse_dim={sparse_dim}) (hybrid sparse tensors)", self)
        return self

    def to(self, *args: Any, **kwargs: Any) -> SparseTensor:
        vals = self._vals.to(*args, **kwargs)
        if vals is self._vals:
            return self
        idx = self._idx.to(vals.device)
        return SparseTensor._make(idx, vals, self._size, self._coalesced)

    def cpu(self) -> SparseTensor:
        return self.to("cpu")

    def cuda(self) -> SparseTensor:
        return self.to("cuda")

    def type(self, dtype: DTypeLike | None = None, non_blocking: _bool = False
             ) -> str | Tensor:
        if dtype is None:  # torch's name: "torch.sparse.FloatTensor", "torch.cuda.sparse...."
            from .creation import _LEGACY_BY_DTYPE
            return (f"torch.{'cuda.' if self.device == 'cuda' else ''}sparse."
                    f"{_LEGACY_BY_DTYPE[self.dtype].__name__}")
        return Tensor.type(self, dtype)

    def float(self) -> SparseTensor:
        return self.to(dtypes.float32)

    def double(self) -> SparseTensor:
        return self.to(dtypes.float64)

    def half(self) -> SparseTensor:
        return self.to(dtypes.float16)

    def long(self) -> SparseTensor:
        return self.to(dtypes.int64)

    def int(self) -> SparseTensor:
        return self.to(dtypes.int32)

    def bool(self) -> SparseTensor:
        return self.to(dtypes.bool_)

    def is_floating_point(self) -> _bool:
        return dtypes.is_floating_point(self.dtype)

    def detach(self) -> SparseTensor:
        return SparseTensor._make(self._idx, self._vals.detach(), self._size, self._coalesced)

    def clone(self) -> SparseTensor:
        return SparseTensor._make(self._idx.clone(), self._vals.clone(), self._size,
                                  self._coalesced)

    def requires_grad_(self, requires_grad: _bool = True) -> Self:
        self._vals.requires_grad_(requires_grad)
        return self

    def t(self) -> SparseTensor:
        if self.ndim != 2:
            raise RuntimeError(f"t(): expects a tensor with <= 2 sparse dimensions, got "
                               f"{self.ndim} ({describe(self)})")
        return self.transpose(0, 1)

    def transpose(self, dim0: _int, dim1: _int) -> SparseTensor:
        n = self.ndim
        d0, d1 = (d + n if d < 0 else d for d in (dim0, dim1))
        if not (0 <= d0 < n and 0 <= d1 < n):
            raise IndexError(f"transpose: dimension out of range (expected to be in range of "
                             f"[{-n}, {n - 1}], but got ({dim0}, {dim1}))")
        order = list(range(n))
        order[d0], order[d1] = d1, d0
        size = tuple(self._size[d] for d in order)
        idx = self._idx[order] if d0 != d1 else self._idx
        return SparseTensor._make(idx, self._vals, size, self._coalesced and d0 == d1)

    # -- arithmetic -----------------------------------------------------------------------------
    def mm(self, mat2: Tensor) -> Tensor:
        return mm(self, mat2)

    def matmul(self, other: Tensor) -> Tensor:
        return _matmul("matmul", self, other)

    def __matmul__(self, other: Any) -> Tensor:
        return _matmul("matmul", self, other)

    def __rmatmul__(self, other: Any) -> NoReturn:
        raise _unsupported("dense @ sparse (matmul with a sparse second operand)", self,
                           "write D @ S as (S.t() @ D.t()).t(), or convert with .to_dense()")

    def _scaled(self, what: str, factor: Any) -> SparseTensor:
        if isinstance(factor, Tensor) or not isinstance(factor, (int, float)):
            raise _unsupported(f"{what} with a {type(factor).__name__} (only a Python number "
                               "scales a sparse tensor)", self)
        return SparseTensor._make(self._idx, self._vals * factor, self._size, self._coalesced)

    def __mul__(self, other: Any) -> SparseTensor:
        return self._scaled("mul", other)

    __rmul__ = mul = __mul__

    def __truediv__(self, other: Any) -> SparseTensor:
        if isinstance(other, Tensor) or not isinstance(other, (int, float)):
            raise _unsupported(f"div by a {type(other).__name__}", self)
        return SparseTensor._make(self._idx, self._vals / other, self._size, self._coalesced)

    div = __truediv__

    def __neg__(self) -> SparseTensor:
        return SparseTensor._make(self._idx, -self._vals, self._size, self._coalesced)

    neg = __neg__


def _rebuild(indices: Tensor, values: Tensor, size: Sequence[int], coalesced: bool
             ) -> SparseTensor:
    return SparseTensor._make(indices, values, size, coalesced)


def _stub(name: str) -> Callable[..., NoReturn]:
    def method(self: Tensor, *args: Any, **kwargs: Any) -> NoReturn:
        raise _unsupported(name, self)
    method.__name__ = name
    return method


# Every other Tensor method and operator refuses a sparse tensor by name, instead of reaching
# for the dense storage it does not have.
_KEEP = {"__init__", "__new__", "__init_subclass__", "__repr__", "__format__", "__reduce_ex__",
         "__hash__", "__getattribute__", "__setattr__", "__delattr__", "__dir__", "__sizeof__",
         "__reduce__", "__subclasshook__", "__str__", "__class__", "__eq__", "__ne__"}


def _install_stubs() -> None:
    own = vars(SparseTensor)
    for klass in Tensor.__mro__[:-1]:
        for name, attr in vars(klass).items():
            if name in own or name in _KEEP or not callable(attr) or isinstance(attr, type):
                continue
            setattr(SparseTensor, name, _stub(name))
    for name in ("__eq__", "__ne__"):  # elementwise on dense tensors: refused, but not by hash
        if name in vars(Tensor):
            setattr(SparseTensor, name, _stub(name))


# -- construction -------------------------------------------------------------------------------
def sparse_coo_tensor(indices: Any, values: Any, size: Sequence[int] | None = None, *,
                      dtype: DTypeLike | None = None, device: DeviceLike | None = None,
                      requires_grad: bool = False, check_invariants: bool | None = None,
                      is_coalesced: bool | None = None) -> SparseTensor:
    """PyTorch's ``torch.sparse_coo_tensor``: the COO tensor with ``values[k]`` at position
    ``indices[:, k]`` (repeated positions sum); ``size`` is inferred from the largest index when
    not given.  A ``values`` tensor that requires grad stays on the tape, so gradients of sparse
    ops reach it; ``requires_grad=True`` makes the values a new leaf."""
    from .creation import tensor
    if not isinstance(values, Tensor):
        values = tensor(values, dtype=dtype, device=device)
    elif dtype is not None and dtypes.as_dtype(dtype) != values.dtype:
        values = values.to(dtypes.as_dtype(dtype))
    if device is not None and str(device).split(":")[0] != values.device:
        values = values.to(device)
    if not isinstance(indices, Tensor):
        indices = tensor(indices, device=values.device)
    if indices.device != values.device:
        raise RuntimeError(f"sparse_coo_tensor: indices on {indices.device} and values on "
                           f"{values.device}; move one with .to()")
    if indices.ndim != 2:
        raise RuntimeError(f"sparse_coo_tensor: indices must be 2-D (sparse_dim, nnz), got shape "
                           f"{list(indices.shape)}")
    if dtypes.kind(indices.dtype) == 0:
        raise TypeError("sparse_coo_tensor: indices must be an integer tensor, got bool")
    if indices.dtype != dtypes.int64:
        indices = indices.detach().to(dtypes.int64)
    indices = indices.detach()
    if values.ndim != 1:
        raise NotImplementedError(
            f"sparse_coo_tensor: values of shape {list(values.shape)}: hybrid sparse tensors "
            "(values with dense dims, shape [nnz, ...]) are not supported; give 1-D values")
    sparse_dim, nnz = indices.shape
    if nnz != values.shape[0]:
        raise RuntimeError(f"sparse_coo_tensor: indices and values must have same nnz, but got "
                           f"nnz from indices: {nnz}, nnz from values: {values.shape[0]}")
    B = for_device(values.device)
    bounds = [B.value_range(B.getitem(indices._data, d)) for d in range(sparse_dim)] if nnz else []
    if size is None:
        size = tuple(hi + 1 for _, hi in bounds) if nnz else (0,) * sparse_dim
    size = tuple(int(n) for n in size)
    if len(size) != sparse_dim:
        raise RuntimeError(f"sparse_coo_tensor: 'len(size) == sparse_dim + dense_dim' is not "
                           f"satisfied: len(size) = {len(size)}, sparse_dim = {sparse_dim}, "
                           "dense_dim = 0 (indices has one row per dimension of size)")
    if any(n < 0 for n in size):
        raise RuntimeError(f"sparse_coo_tensor: negative size {list(size)}")
    for d, (lo, hi) in enumerate(bounds):
        if lo < 0 or hi >= size[d]:
            bad = lo if lo < 0 else hi
            raise RuntimeError(f"sparse_coo_tensor: size is inconsistent with indices: for dim "
                               f"{d}, size is {size[d]} but found index {bad} (indices must lie "
                               f"in [0, size); size={list(size)})")
    if requires_grad:
        if not dtypes.is_floating_point(values.dtype):
            raise RuntimeError(f"sparse_coo_tensor: only floating point tensors can require "
                               f"gradients, got dtype {values.dtype}")
        values = values.detach().requires_grad_()
    coalesced = nnz <= 1 if is_coalesced is None else bool(is_coalesced)
    return SparseTensor._make(indices, values, size, coalesced)


def from_dense(x: Tensor, sparse_dim: int | None = None) -> SparseTensor:
    """``x.to_sparse()``: the non-zero elements of the dense ``x`` as a coalesced COO tensor;
    the gradient reaches ``x`` at those elements (see the module notes)."""
    if sparse_dim is not None and sparse_dim != x.ndim:
        raise NotImplementedError(f"to_sparse(sparse_dim={sparse_dim}): hybrid sparse tensors "
                                  f"are not supported; use to_sparse() ({describe(x)})")
    if x.ndim == 0:
        raise NotImplementedError(f"to_sparse: a 0-d tensor has no sparse form here; "
                                  f"give at least one dim ({describe(x)})")
    B = x.backend
    idx = wrap(B.ascontiguousarray(B.transpose(B.nonzero(x._data), (1, 0))), x.device)
    values = x[tuple(idx[d] for d in range(x.ndim))]
    return SparseTensor._make(idx, values, x.shape, True)


# -- PyTorch's legacy sparse types: torch.sparse.FloatTensor(indices, values, size) ------------------
class _LegacySparseType(type):
    """``sparse.FloatTensor(indices, values, size)`` (values given as data take the type's dtype;
    a values tensor keeps its own, as in torch), ``sparse.FloatTensor(2, 3)`` an empty sparse
    tensor of that size; ``isinstance`` asks for a CPU sparse tensor of the dtype."""
    dtype: np.dtype

    def __call__(cls, *args: Any, device: DeviceLike | None = None) -> SparseTensor:
        from .creation import _is_int, zeros
        if all(_is_int(n) for n in args):
            size = tuple(int(n) for n in args) or (0,)
            return sparse_coo_tensor(zeros((len(size), 0), dtype=dtypes.int64, device=device),
                                     zeros(0, dtype=cls.dtype, device=device), size)
        if len(args) not in (2, 3):
            raise TypeError(f"sparse.{cls.__name__}: expected (indices, values[, size]) or sizes, "
                            f"got {len(args)} arguments")
        indices, values = args[:2]
        if not isinstance(values, Tensor):
            from .creation import tensor
            values = tensor(values, dtype=cls.dtype, device=device)
        return sparse_coo_tensor(indices, values, args[2] if len(args) == 3 else None,
                                 device=device)

    def __instancecheck__(cls, obj: object) -> bool:
        return isinstance(obj, SparseTensor) and obj.device == "cpu" and obj.dtype == cls.dtype

    def __repr__(cls) -> str:
        return f"<class 'tensorlite.sparse.{cls.__name__}'>"


def _legacy(name: str, dtype: np.dtype) -> _LegacySparseType:
    return _LegacySparseType(name, (), {"dtype": dtype, "__module__": __name__, "__slots__": (),
                                        "__doc__": f"PyTorch's legacy sparse {name} ({dtype})."})


FloatTensor = _legacy("FloatTensor", dtypes.float32)
DoubleTensor = _legacy("DoubleTensor", dtypes.float64)
HalfTensor = _legacy("HalfTensor", dtypes.float16)
LongTensor = _legacy("LongTensor", dtypes.int64)
IntTensor = _legacy("IntTensor", dtypes.int32)
BoolTensor = _legacy("BoolTensor", dtypes.bool_)


# -- sparse @ dense -----------------------------------------------------------------------------
def mm(mat1: SparseTensor, mat2: Tensor) -> Tensor:
    """``mat1 @ mat2`` for a 2-D sparse ``mat1`` and a 2-D dense ``mat2`` (torch.sparse.mm); the
    result is dense; gradients reach ``mat2`` and ``mat1``'s values."""
    if not isinstance(mat1, SparseTensor):
        if isinstance(mat2, SparseTensor):
            raise _unsupported("mm with a sparse second operand (dense @ sparse)", mat2)
        raise TypeError(f"sparse.mm: expected a sparse first operand, got "
                        f"{type(mat1).__name__}; for dense matrices use tensorlite.mm")
    if not isinstance(mat2, Tensor):
        raise TypeError(f"sparse.mm: expected a Tensor second operand, got {type(mat2).__name__}")
    if mat1.ndim != 2 or mat2.ndim != 2:
        raise RuntimeError(f"mm: expects two matrices, got shapes {list(mat1.shape)} (sparse) and "
                           f"{list(mat2.shape)}")
    return _spmm(mat1, mat2)


spmm = mm


def matmul(input: SparseTensor, other: Tensor) -> Tensor:
    """``input @ other`` for a sparse ``input`` (2-D) and a dense 1-D or 2-D ``other``: the
    product tensorlite.matmul/mm hand a sparse first operand to."""
    if not isinstance(input, SparseTensor):
        raise TypeError(f"sparse.matmul: expected a sparse first operand, got "
                        f"{type(input).__name__}; for dense tensors use tensorlite.matmul")
    return _matmul("matmul", input, other)


def _matmul(what: str, S: SparseTensor, other: Any) -> Tensor:
    if not isinstance(other, Tensor):
        raise TypeError(f"{what}: expected a Tensor, got {type(other).__name__}")
    if S.ndim != 2:
        raise _unsupported(f"{what} of a {S.ndim}-D sparse tensor (only 2-D sparse matrices "
                           "multiply)", S)
    if other.ndim == 1:
        if S.shape[1] != other.shape[0]:
            raise RuntimeError(f"{what}: size mismatch, sparse {list(S.shape)} @ vector "
                               f"{list(other.shape)} (the inner sizes must match)")
        return _spmm(S, other.unsqueeze(1)).squeeze(1)
    if other.ndim != 2:
        raise _unsupported(f"{what} of a 2-D sparse tensor with a {other.ndim}-D dense one "
                           "(batched sparse products)", S)
    return _spmm(S, other)


def _spmm(S: SparseTensor, D: Tensor) -> Tensor:
    if isinstance(D, SparseTensor):
        raise _unsupported("sparse @ sparse", D)
    if S.device != D.device:
        raise RuntimeError(f"mm: expected all tensors on the same device, got {describe(S)} "
                           f"(sparse) and {describe(D)}; move one with .to()")
    if S.dtype != D.dtype:
        raise RuntimeError(f"mm: expected scalar type {S.dtype} but found {D.dtype} (sparse "
                           f"{describe(S)} @ dense {describe(D)}); convert one with .to()")
    if dtypes.kind(S.dtype) == 0:
        raise NotImplementedError(f"mm: sparse @ dense is not implemented for bool "
                                  f"({describe(S)}); convert with .int() or .float()")
    if S.shape[1] != D.shape[0]:
        raise RuntimeError(f"mm: shapes {list(S.shape)} (sparse) and {list(D.shape)} cannot be "
                           f"multiplied ({S.shape[0]}x{S.shape[1]} and {D.shape[0]}x"
                           f"{D.shape[1]}; the inner sizes must match)")
    idx, vals, size = S._idx, S._vals, S._size
    data = S.backend.coo_matmul(idx._data, vals._data, size, D._data)

    def backward(ctx: Context, g: Tensor) -> tuple[Tensor | None, Tensor | None]:
        need_vals, need_dense = ctx.needs_input_grad
        gv = gd = None
        if need_vals:  # d out[i, :] / d v_k = dense[col_k, :] at i = row_k
            gv = (g[ctx.idx[0]] * ctx.dense[ctx.idx[1]]).sum(-1)
        if need_dense:  # S^T @ g, itself a sparse product (differentiable again)
            st = SparseTensor._make(ctx.idx[[1, 0]], ctx.vals, (size[1], size[0]))
            gd = _spmm(st, g)
        return gv, gd
    return record("sparse_mm", data, (vals, D), backward,
                  save={"idx": idx, "vals": vals, "dense": D})


_install_stubs()
