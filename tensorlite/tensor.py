"""The Tensor: an array from the active backend plus what the tape needs to differentiate it.

Differentiable ops live in ``tensorlite.ops`` and are installed here as methods and operators
(see ``ops/__init__.py``), so this file holds only state, conversion and the autograd entry points.
"""
from __future__ import annotations

import builtins
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Union, overload

import numpy as np

from . import _capture_hooks, dtypes
from .backends import for_device
from .size import Size, _shape

if TYPE_CHECKING:
    from collections.abc import Sequence

    from typing_extensions import Self

    from .autograd.graph import Node
    from .dtypes import DTypeLike
    from .sparse import SparseTensor

# The builtins under names the Tensor methods int(), bool(), float() and type() don't shadow.
_int = builtins.int
_bool = builtins.bool
_float = builtins.float
# What a device argument accepts: a name ("cpu", "cuda:0") or a ``device``.
DeviceLike = Union[str, "device"]


class Tensor(dtypes.FloatCasts):
    # _base: the tensor this one is a view of (None if it owns its storage); _seen: for a view,
    # its base's grad_fn when the view's own history was made (see autograd/graph.py, rebase)
    __slots__ = ("_data", "device", "requires_grad", "_grad", "grad_fn", "_version", "_hooks",
                 "_base", "_seen", "__weakref__")
    __array_ufunc__ = None  # NumPy operands defer to our operators instead of swallowing us
    __hash__ = object.__hash__  # == is elementwise, identity is the hash
    device: str
    requires_grad: bool
    grad_fn: Node | None
    _version: list[_int]
    _data: Any  # the backend's array
    _grad: Tensor | None
    _hooks: list[Any] | None
    _base: Tensor | None
    _seen: Node | None

    if TYPE_CHECKING:  # the ops install these at run time (ops/registry.py, ops/__init__.py)
        def __getattr__(self, name: str) -> Any: ...
        def __add__(self, other: Any) -> "Tensor": ...
        def __radd__(self, other: Any) -> "Tensor": ...
        def __iadd__(self, other: Any) -> "Tensor": ...
        def __sub__(self, other: Any) -> "Tensor": ...
        def __rsub__(self, other: Any) -> "Tensor": ...
        def __isub__(self, other: Any) -> "Tensor": ...
        def __mul__(self, other: Any) -> "Tensor": ...
        def __rmul__(self, other: Any) -> "Tensor": ...
        def __imul__(self, other: Any) -> "Tensor": ...
        def __truediv__(self, other: Any) -> "Tensor": ...
        def __rtruediv__(self, other: Any) -> "Tensor": ...
        def __itruediv__(self, other: Any) -> "Tensor": ...
        def __floordiv__(self, other: Any) -> "Tensor": ...
        def __mod__(self, other: Any) -> "Tensor": ...
        def __pow__(self, other: Any) -> "Tensor": ...
        def __rpow__(self, other: Any) -> "Tensor": ...
        def __matmul__(self, other: Any) -> "Tensor": ...
        def __rmatmul__(self, other: Any) -> "Tensor": ...
        def __neg__(self) -> "Tensor": ...
        def __abs__(self) -> "Tensor": ...
        def __invert__(self) -> "Tensor": ...
        def __and__(self, other: Any) -> "Tensor": ...
        def __or__(self, other: Any) -> "Tensor": ...
        def __xor__(self, other: Any) -> "Tensor": ...
        def __lt__(self, other: Any) -> "Tensor": ...
        def __le__(self, other: Any) -> "Tensor": ...
        def __gt__(self, other: Any) -> "Tensor": ...
        def __ge__(self, other: Any) -> "Tensor": ...
        def __eq__(self, other: Any) -> "Tensor": ...  # type: ignore[override]
        def __ne__(self, other: Any) -> "Tensor": ...  # type: ignore[override]
        def __getitem__(self, index: Any) -> "Tensor": ...
        def __setitem__(self, index: Any, value: Any) -> None: ...

    def __init__(self, *args: Any, device: DeviceLike | None = None, **kwargs: Any) -> None:
        """PyTorch's legacy constructor: ``Tensor(2, 3)`` a (zero-filled) tensor of that size,
        ``Tensor([1, 2])`` a copy of the data, ``Tensor()`` an empty one, ``Tensor(t)`` ``t``'s
        storage, all in the default float dtype (``tensorlite.tensor`` is the modern form)."""
        from .creation import _legacy_new
        t = _legacy_new("Tensor", None, args, device, kwargs)
        _init(self, t._data, t.device, False, version=t._version)
        if t._base is not None:
            make_view(self, t._base)

    # -- state ----------------------------------------------------------------------------------
    @property
    def shape(self) -> Size:
        return _shape(self._data.shape)

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    @property
    def ndim(self) -> _int:
        return self._data.ndim

    @property
    def is_cuda(self) -> _bool:
        return self.device == "cuda"

    is_sparse = False  # a sparse COO tensor is a tensorlite.sparse.SparseTensor

    @property
    def layout(self) -> layout:
        return strided

    @property
    def grad(self) -> Tensor | None:
        """The accumulated gradient (a tensor of this tensor's shape, dtype and device) or None."""
        return self._grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        # As torch: a gradient must be a Tensor (or None) of the tensor's size, dtype and device.
        # The engine writes ``_grad`` directly; this check guards what user code assigns.
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"assigned grad expected to be a Tensor or None but got grad of "
                                f"type {type(value).__name__}")
            if value.shape != self.shape:
                raise RuntimeError(f"attempting to assign a gradient of size "
                                   f"'{list(value.shape)}' to a tensor of size "
                                   f"'{list(self.shape)}'. Please ensure that the gradient and "
                                   "the tensor are the same size")
            if value.dtype != self.dtype:
                raise RuntimeError(f"attempting to assign a gradient with dtype {value.dtype} to "
                                   f"a tensor with dtype {self.dtype} ({describe(value)} to "
                                   f"{describe(self)}); convert it with .to({self.dtype})")
            if value.device != self.device:
                raise RuntimeError(f"attempting to assign a gradient located on device "
                                   f"'{value.device}' to a tensor located on device "
                                   f"'{self.device}'. Please ensure that the gradient and the "
                                   f"tensor are on the same device (.to('{self.device}'))")
        self._grad = value

    @grad.deleter
    def grad(self) -> None:
        self._grad = None

    @property
    def is_leaf(self) -> _bool:
        return self.grad_fn is None

    @property
    def data(self) -> Tensor:
        """The same storage, detached from the tape (PyTorch's ``.data``)."""
        return self.detach()

    @data.setter
    def data(self, value: Tensor) -> None:
        if value.shape != self.shape or value.dtype != self.dtype or value.device != self.device:
            raise ValueError(f"data: cannot replace {describe(self)} with {describe(value)}")
        self._data = value._data
        self._version[0] += 1

    def is_floating_point(self) -> _bool:
        return dtypes.is_floating_point(self.dtype)

    @overload
    def size(self, dim: None = None) -> Size: ...

    @overload
    def size(self, dim: _int) -> _int: ...

    def size(self, dim: _int | None = None) -> Size | _int:
        return self.shape if dim is None else self.shape[dim]

    def dim(self) -> _int:
        return self._data.ndim

    def numel(self) -> _int:
        return self._data.size

    nelement = numel

    def __len__(self) -> _int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    @property
    def backend(self) -> Any:
        return for_device(self.device)

    # -- conversion -----------------------------------------------------------------------------
    def item(self) -> Any:
        if self._data.size != 1:
            raise ValueError(f"item: only a one-element tensor converts to a Python number, "
                             f"got shape {tuple(self.shape)}")
        return self.backend.to_host(self._data).reshape(()).item()

    def tolist(self) -> Any:
        return self.backend.to_host(self._data).tolist()

    def numpy(self) -> np.ndarray:
        if self.requires_grad:
            raise RuntimeError("numpy: can't call numpy() on a tensor that requires grad; "
                               "use tensor.detach().numpy()")
        if self.device != "cpu":
            raise TypeError(f"numpy: the tensor is on '{self.device}'; copy it to the host first "
                            "with tensor.cpu()")
        if _capture_hooks.active:
            _capture_hooks.host_read("numpy()")
        return self._data

    def __array__(self, dtype: DTypeLike | None = None, copy: _bool | None = None) -> np.ndarray:
        # NumPy's protocol: copy=True must return a copy (np.array(t) is a snapshot, as with
        # torch), copy=None shares the host storage where it can (np.asarray(t)).
        arr = self.backend.to_host(self._data)
        if dtype is not None and np.dtype(dtype) != arr.dtype:
            return arr.astype(dtype)
        if copy and isinstance(self._data, np.ndarray) and np.may_share_memory(arr, self._data):
            return arr.copy()
        return arr

    def __dlpack__(self, *args: Any, **kwargs: Any) -> Any:
        return self._data.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self) -> tuple[_int, _int]:
        return self._data.__dlpack_device__()

    def __bool__(self) -> _bool:
        if self._data.size != 1:
            raise RuntimeError(f"the truth value of a tensor of shape {tuple(self.shape)} is "
                               "ambiguous; use .any() or .all()")
        return bool(self.item())

    def __float__(self) -> _float:
        return float(self.item())

    def __int__(self) -> _int:
        return int(self.item())

    def __index__(self) -> _int:
        if dtypes.kind(self.dtype) == 2:
            raise TypeError("only integer tensors of a single element can be used as an index")
        return int(self.item())

    def __format__(self, format_spec: str) -> str:
        # As torch's Tensor.__format__: a 0-d tensor formats its value (f"{loss:.4f}"); any
        # other tensor (a one-element 1-d one too) takes only the empty spec, giving str(t).
        if self._data.ndim == 0 and type(self) is Tensor:
            return self.item().__format__(format_spec)
        if format_spec:
            raise TypeError(f"unsupported format string {format_spec!r} passed to "
                            f"{type(self).__name__}.__format__ for a tensor of shape "
                            f"{tuple(self.shape)}: only a 0-d tensor takes a format spec; "
                            "format t.item() (one element) or t.tolist() instead")
        return str(self)

    def __repr__(self) -> str:
        arr = self.backend.to_host(self._data)
        if arr.dtype == dtypes.bfloat16:  # (printed through float32; the dtype is named below)
            arr = arr.astype(np.float32)
        # PyTorch shows 4 decimals unless every value is whole ("1., 2.")
        finite = arr[np.isfinite(arr)] if arr.dtype.kind in "fc" else arr
        whole = arr.dtype.kind not in "fc" or (finite == np.round(finite)).all()
        # (PyTorch's linewidth 80 fits floor((80 - indent) / (width + 2)) values a line;
        #  NumPy's greedy fill with the trailing ", " counted gives the same at 81)
        body = np.array2string(arr, separator=", ", prefix="tensor(", precision=4,
                               floatmode="maxprec" if whole else "fixed", max_line_width=81)
        extras = []
        if self.device != "cpu":
            extras.append(f"device='{self.device}'")
        default = dtypes._DEFAULT_OF_KIND[dtypes.kind(self.dtype)]
        if self.dtype != default or arr.size == 0:
            extras.append(f"dtype=tensorlite.{self.dtype}")
        if self.grad_fn is not None:
            extras.append(f"grad_fn=<{self.grad_fn.name()}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + ", ".join([body] + extras) + ")"

    # -- autograd -------------------------------------------------------------------------------
    def backward(self, gradient: Tensor | None = None, retain_graph: _bool | None = None,
                 create_graph: _bool = False, inputs: Tensor | Sequence[Tensor] | None = None
                 ) -> None:
        from .autograd.engine import backward
        backward((self,), None if gradient is None else (gradient,), retain_graph, create_graph,
                 inputs)

    def detach(self) -> Tensor:
        """The same storage, cut from the tape."""
        return wrap(self._data, self.device, version=self._version)

    def detach_(self) -> Self:
        self.grad_fn = None
        self.requires_grad = False
        return self

    def requires_grad_(self, requires_grad: _bool = True) -> Self:
        if not self.is_leaf:
            raise RuntimeError("requires_grad_: only leaf tensors can change requires_grad; "
                               "use .detach() to get a leaf")
        if requires_grad and dtypes.kind(self.dtype) != 2:
            raise RuntimeError(f"requires_grad_: only floating point tensors can require "
                               f"gradients, got dtype {self.dtype}")
        self.requires_grad = requires_grad
        return self

    def retain_grad(self) -> None:
        """Keep ``.grad`` on this non-leaf tensor after backward (leaves always keep theirs)."""
        if self.grad_fn is not None:
            import weakref
            self.grad_fn.retained = weakref.ref(self)
        elif not self.requires_grad:
            raise RuntimeError("retain_grad: the tensor does not require grad")

    def register_hook(self, hook: Callable[[Tensor], Tensor | None]) -> _HookHandle:
        """Call ``hook(grad)`` when this tensor's gradient is computed; a returned tensor
        replaces the gradient.  Returns a handle whose ``remove()`` unregisters it."""
        if not self.requires_grad:
            raise RuntimeError("register_hook: cannot register a hook on a tensor that doesn't "
                               "require gradient")
        if self.grad_fn is not None:
            hooks = self.grad_fn.hooks = self.grad_fn.hooks or []
        else:
            hooks = self._hooks = self._hooks or []
        hooks.append(hook)
        return _HookHandle(hooks, hook)

    def register_post_accumulate_grad_hook(self, hook: Callable[[Tensor], None]
                                           ) -> _HookHandle:
        """Call ``hook(self)`` each time backward has accumulated a gradient into this leaf's
        ``.grad`` (e.g. to step an optimizer per parameter).  Returns a handle with ``remove()``."""
        if not self.requires_grad:
            raise RuntimeError("register_post_accumulate_grad_hook: cannot register a hook on a "
                               "tensor that doesn't require gradient")
        if self.grad_fn is not None:
            raise RuntimeError("register_post_accumulate_grad_hook: post accumulate grad hooks "
                               "cannot be registered on non-leaf tensors")
        entry = PostAccumulateGradHook(hook)
        hooks = self._hooks = self._hooks or []  # beside the leaf's gradient hooks
        hooks.append(entry)
        return _HookHandle(hooks, entry)

    # -- devices and dtypes ---------------------------------------------------------------------
    def to(self, *args: Any, dtype: DTypeLike | None = None, device: DeviceLike | None = None,
           copy: _bool = False) -> Tensor:
        for a in args:  # .to("cuda"), .to(tensorlite.float64), .to(other_tensor), .to("cpu", dtype)
            if isinstance(a, Tensor):
                device, dtype = a.device, a.dtype
            elif isinstance(a, str) and a.split(":")[0] in ("cpu", "cuda"):
                device = a
            else:
                dtype = a
        out = self
        if dtype is not None and dtypes.as_dtype(dtype) != self.dtype:
            from .ops import cast
            out = cast(out, dtypes.as_dtype(dtype))
        if device is not None and str(device).split(":")[0] != self.device:
            from .ops.pointwise import to_device
            out = to_device(out, _device_of(device))
        if copy and out is self:
            out = self.clone()
        return out

    def cpu(self) -> Tensor:
        return self.to("cpu")

    def to_sparse(self, sparse_dim: _int | None = None) -> SparseTensor:
        """The non-zero elements as a sparse COO tensor (tensorlite.sparse)."""
        from .sparse import from_dense
        return from_dense(self, sparse_dim)

    def to_dense(self, dtype: DTypeLike | None = None) -> Tensor:
        """A dense tensor is its own dense form (``dtype`` converts)."""
        return self if dtype is None else self.to(dtype)

    def cuda(self) -> Tensor:
        return self.to("cuda")

    def type(self, dtype: DTypeLike | None = None, non_blocking: _bool = False
             ) -> str | Tensor:
        """With no argument, PyTorch's type name ("torch.FloatTensor", "torch.cuda.LongTensor");
        otherwise ``self`` converted to ``dtype``: a dtype, a legacy type (``tensorlite.FloatTensor``)
        or its name ("torch.DoubleTensor", "torch.cuda.FloatTensor" also moves to the GPU)."""
        from .creation import _legacy_type_name, _legacy_target
        if dtype is None:
            return _legacy_type_name(self.dtype, self.device)
        dtype, device = _legacy_target(dtype)
        return self.to(dtype=dtype, device=device)

    # -- PyTorch's new_* factories: the dtype and device of self unless told otherwise ----------
    def new(self, *args: Any, device: DeviceLike | None = None, **kwargs: Any) -> Tensor:
        """The legacy ``x.new(2, 3)`` / ``x.new([1, 2])`` / ``x.new()``: as ``Tensor(...)`` with
        ``x``'s dtype and device."""
        from .creation import _legacy_new
        return _legacy_new("new", self.dtype, args, self.device if device is None else device,
                           kwargs)

    def new_tensor(self, data: Any, dtype: DTypeLike | None = None,
                   device: DeviceLike | None = None, requires_grad: _bool = False) -> Tensor:
        from .creation import tensor
        return tensor(data, dtype=self.dtype if dtype is None else dtype,
                      device=self.device if device is None else device,
                      requires_grad=requires_grad)

    def _new_filled(self, name: str, size: Any, dtype: DTypeLike | None,
                    device: DeviceLike | None, requires_grad: _bool, *fill: Any) -> Tensor:
        from . import creation
        return getattr(creation, name)(*((size,) + fill if fill else size),
                                       dtype=self.dtype if dtype is None else dtype,
                                       device=self.device if device is None else device,
                                       requires_grad=requires_grad)

    def new_zeros(self, *size: Any, dtype: DTypeLike | None = None,
                  device: DeviceLike | None = None, requires_grad: _bool = False) -> Tensor:
        return self._new_filled("zeros", size, dtype, device, requires_grad)

    def new_ones(self, *size: Any, dtype: DTypeLike | None = None,
                 device: DeviceLike | None = None, requires_grad: _bool = False) -> Tensor:
        return self._new_filled("ones", size, dtype, device, requires_grad)

    def new_empty(self, *size: Any, dtype: DTypeLike | None = None,
                  device: DeviceLike | None = None, requires_grad: _bool = False) -> Tensor:
        return self._new_filled("empty", size, dtype, device, requires_grad)

    def new_full(self, size: Any, fill_value: _float, dtype: DTypeLike | None = None,
                 device: DeviceLike | None = None, requires_grad: _bool = False) -> Tensor:
        return self._new_filled("full", size, dtype, device, requires_grad, fill_value)

    def long(self) -> Tensor:
        return self.to(dtypes.int64)

    def int(self) -> Tensor:
        return self.to(dtypes.int32)

    def bool(self) -> Tensor:
        return self.to(dtypes.bool_)

    def short(self) -> Tensor:
        return self.to(dtypes.int16)

    def char(self) -> Tensor:
        return self.to(dtypes.int8)

    def byte(self) -> Tensor:
        return self.to(dtypes.uint8)

    def cfloat(self) -> Tensor:
        return self.to(dtypes.complex64)

    def cdouble(self) -> Tensor:
        return self.to(dtypes.complex128)


class PostAccumulateGradHook:
    """A leaf's hook called with the leaf after backward accumulated its ``.grad``; kept in the
    leaf's hook list, which the engine otherwise runs on the gradient before accumulating."""
    __slots__ = ("fn",)

    def __init__(self, fn: Callable[[Tensor], None]) -> None:
        self.fn = fn


class _HookHandle:
    def __init__(self, hooks: list[Any], hook: Any) -> None:
        self._hooks, self._hook = hooks, hook

    def remove(self) -> None:
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


def _init(t: Tensor, data: Any, device: DeviceLike, requires_grad: bool = False,
          version: list[int] | None = None) -> None:
    t._data = data
    t.device = device if device is _CPU or device is _CUDA else (  # (the shared ones: as is)
        _DEVICES.get(device) or _device_of(device))
    t.requires_grad = requires_grad
    t._grad = t.grad_fn = t._hooks = None
    t._version = [0] if version is None else version
    t._base = t._seen = None
    if _capture_hooks.active:  # (tensorlite.compile tells the tensors made during a capture)
        _capture_hooks.created(t)


def make_view(t: Tensor, of: Tensor) -> None:
    """Make ``t`` (sharing ``of``'s storage) a view of ``of``'s root base, its history current."""
    root = of if of._base is None else of._base
    t._base, t._seen = root, root.grad_fn


def wrap(data: Any, device: DeviceLike, requires_grad: bool = False,
         version: list[int] | None = None) -> Tensor:
    """A tensor around a backend array, with no history (the fast constructor the ops use)."""
    t = Tensor.__new__(Tensor)
    _init(t, data, device, requires_grad, version)
    return t


class device(str):
    """PyTorch's ``torch.device``: ``device("cpu")``, ``device("cuda:0")``, ``device("cuda", 0)``.
    It is the device string itself, so it goes wherever a device name does (``device=``,
    ``.to()``) and compares equal to a tensor's ``.device``."""
    __slots__ = ()

    def __new__(cls, type: str, index: int | None = None) -> Self:
        name = str(type) if index is None else f"{type}:{int(index)}"
        kind, _, number = name.partition(":")
        if kind not in ("cpu", "cuda") or (_ and not number.isdigit()):
            raise RuntimeError(f"device: expected 'cpu' or 'cuda' (optionally 'cuda:<index>'), "
                               f"got {name!r}")
        return super().__new__(cls, name)

    @property
    def type(self) -> str:
        return self.partition(":")[0]

    @property
    def index(self) -> int | None:  # type: ignore[override]
        number = self.partition(":")[2]
        return int(number) if number else None

    def __repr__(self) -> str:
        return f"device(type='{self.type}'" + ("" if self.index is None else
                                                f", index={self.index}") + ")"


_DEVICES = {name: device(name) for name in ("cpu", "cuda")}  # one object per device, shared
_CPU, _CUDA = _DEVICES["cpu"], _DEVICES["cuda"]


def _device_of(name: DeviceLike) -> device:
    """The shared ``device`` object for a device name ("cuda:0" counts as "cuda")."""
    kind = str(name).partition(":")[0]
    if kind not in _DEVICES:
        device(name)  # raises, naming the device
    return _DEVICES[kind]


class layout:
    """PyTorch's ``torch.layout``: ``tensorlite.strided`` (dense tensors) or
    ``tensorlite.sparse_coo`` (tensorlite.sparse.SparseTensor)."""
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"tensorlite.{self.name}"

    def __reduce__(self) -> str:
        return self.name  # pickles as the module-level instance


strided = layout("strided")
sparse_coo = layout("sparse_coo")


def describe(t: Tensor) -> str:
    """'float32[3, 4] on cpu': how error messages name a tensor."""
    return f"{t.dtype}{list(t.shape)} on {t.device}"


def is_tensor(obj: object) -> bool:
    """Whether ``obj`` is a tensorlite Tensor (``torch.is_tensor``)."""
    return isinstance(obj, Tensor)


def numel(input: Tensor) -> int:
    """The number of elements of ``input``."""
    return input.numel()


def is_floating_point(input: Tensor) -> bool:
    """Whether ``input``'s dtype is a floating-point one."""
    return input.is_floating_point()
