"""Creating tensors: PyTorch's factory functions, on the default device unless told otherwise."""
from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from . import backends, dtypes
from .tensor import Tensor, wrap

if TYPE_CHECKING:
    from .dtypes import DTypeLike
    from .ops.random import Generator
    from .tensor import DeviceLike


def _device(device: DeviceLike | None) -> tuple[str, Any]:
    device = backends.default_device() if device is None else str(device).split(":")[0]
    return device, backends.for_device(device)


def _finish(data: Any, device: str, requires_grad: bool) -> Tensor:
    t = wrap(data, device)
    if requires_grad:
        t.requires_grad_()
    return t


def _size(size: Sequence[Any]) -> tuple[int, ...]:
    if len(size) == 1 and not isinstance(size[0], int):
        return tuple(size[0])
    return tuple(size)


def _dtype(dtype: DTypeLike | None) -> np.dtype:
    """``dtype`` checked, or the default float dtype when None."""
    return dtypes.get_default_dtype() if dtype is None else dtypes.as_dtype(dtype)


def _infer_dtype(value: object) -> np.dtype:
    """A Python number's default dtype: bool, int64 or the default float dtype."""
    return dtypes._DEFAULT_OF_KIND[dtypes.scalar_kind(value)]


def tensor(data: Any, dtype: DTypeLike | None = None, device: DeviceLike | None = None,
           requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data`` (a number, nested lists, an array or a tensor).
    Python floats take the default dtype (float32 unless set_default_dtype changed it), ints
    int64; an array keeps its dtype."""
    if isinstance(data, Tensor):
        device, B = _device(data.device if device is None else device)
        if device == data.device:  # a copy where it lives, not a round trip through the host
            dt = data.dtype if dtype is None else dtypes.as_dtype(dtype)
            x = data._data if dt == data.dtype else B.astype(data._data, dt)
            return _finish(B.copy(x), device, requires_grad)
        host = data.backend.to_host(data._data)
    else:
        try:
            host = np.asarray(data)
        except ValueError:  # NumPy: "inhomogeneous shape"; say where, as PyTorch
            raise ValueError(f"tensor: {_ragged(data) or 'the nested lists are ragged'}; every list at one depth must have the "
                             "same length (pad the shorter ones)") from None
        if host.dtype == object or host.dtype.kind in "USV" and host.dtype != dtypes.bfloat16:
            raise TypeError(f"tensor: cannot build a tensor from {type(data).__name__} holding "
                            f"{host.dtype} values; use numbers, nested lists of numbers or arrays")
        if dtype is None and not hasattr(data, "dtype") and host.dtype.kind in "fc":
            # Python floats (complex numbers) take the default (complex) dtype, as PyTorch
            host = host.astype(dtypes._DEFAULT_OF_KIND[2 if host.dtype.kind == "f" else 3])
    device, B = _device(device)
    dt = dtypes.as_dtype(host.dtype if dtype is None else dtype)
    if not hasattr(data, "dtype") and host.dtype != dt and dtypes.kind(dt) == 1 and host.size:
        _check_fits(host, dt)
    return _finish(B.copy(B.asarray(host, dtype=dt)) if device == "cpu" else B.asarray(host, dt),
                   device, requires_grad)


def _check_fits(host: np.ndarray, dt: np.dtype) -> None:
    """PyTorch's check on Python numbers given an integer dtype: an int must lie in the dtype's
    range (for an unsigned one, -max..max: -1 wraps to 255), a float (then truncated) in it,
    NaN and inf nowhere; an array or a tensor wraps instead, as a cast does."""
    info = np.iinfo(dt)
    kind = host.dtype.kind
    if kind in "iu":
        lo = -int(info.max) if info.min == 0 else int(info.min)
        bad = bool((host < lo).any() or (host > info.max).any())
    elif kind == "f":
        with np.errstate(invalid="ignore"):
            bad = bool((~np.isfinite(host)).any() or (host < info.min).any()
                       or (host > info.max).any())
    else:
        return
    if bad:
        raise RuntimeError(f"tensor: value cannot be converted to type {dt} without overflow "
                           f"(the {dt} range is {info.min}..{info.max}); pass values in range, "
                           f"or build a wider tensor and cast it (wrapping) with .to({dt})")


def _ragged(data: Any, dim: int = 0) -> str:
    """Where nested lists stop being rectangular: 'expected sequence of length 2 at dim 1 (got 1)'."""
    items = list(data)
    lengths = [len(x) if isinstance(x, (list, tuple)) else None for x in items]
    for x, n in zip(items, lengths):
        if n != lengths[0]:
            return (f"expected sequence of length {lengths[0]} at dim {dim + 1} (got {n})"
                    if None not in (n, lengths[0]) else f"a number and a list mixed at dim {dim + 1}")
    for x in items:
        if lengths[0] is not None and (found := _ragged(x, dim + 1)):
            return found
    return ""


def as_tensor(data: Any, dtype: DTypeLike | None = None,
              device: DeviceLike | None = None) -> Tensor:
    if isinstance(data, Tensor) and dtype in (None, data.dtype) and device in (None, data.device):
        return data
    return tensor(data, dtype, device)


def from_numpy(array: np.ndarray) -> Tensor:
    """A CPU tensor sharing memory with the NumPy ``array``."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    dtypes.as_dtype(array.dtype)
    return wrap(array, "cpu")


def from_dlpack(obj: Any) -> Tensor:
    """A tensor sharing memory with any DLPack producer (NumPy, CuPy, PyTorch, ...)."""
    kind = obj.__dlpack_device__()[0]
    device = "cuda" if kind == 2 else "cpu"
    B = backends.for_device(device)
    data = B.from_dlpack(obj)
    dtypes.as_dtype(data.dtype)
    return wrap(data, device)


def _filled(name: str, size: Sequence[Any], dtype: DTypeLike | None, device: DeviceLike | None,
            requires_grad: bool, default: np.dtype | None = None, **kw: Any) -> Tensor:
    device, B = _device(device)
    data = getattr(B, name)(_size(size), dtype=_dtype(dtype or default), **kw)
    return _finish(data, device, requires_grad)


def zeros(*size: int | Sequence[int], dtype: DTypeLike | None = None,
          device: DeviceLike | None = None, requires_grad: bool = False) -> Tensor:
    return _filled("zeros", size, dtype, device, requires_grad)


def ones(*size: int | Sequence[int], dtype: DTypeLike | None = None,
         device: DeviceLike | None = None, requires_grad: bool = False) -> Tensor:
    return _filled("ones", size, dtype, device, requires_grad)


def empty(*size: int | Sequence[int], dtype: DTypeLike | None = None,
          device: DeviceLike | None = None, requires_grad: bool = False) -> Tensor:
    return _filled("empty", size, dtype, device, requires_grad)


def full(size: Sequence[int], fill_value: float, dtype: DTypeLike | None = None,
         device: DeviceLike | None = None, requires_grad: bool = False) -> Tensor:
    dt = _dtype(dtype or _infer_dtype(fill_value))
    return _filled("full", (size,), dt, device, requires_grad,
                   fill_value=dtypes.fit_int("full", fill_value, dt))


def _like(fn: Callable[..., Tensor], input: Tensor, dtype: DTypeLike | None,
          device: DeviceLike | None, requires_grad: bool, *args: Any) -> Tensor:
    return fn(input.shape, *args, dtype=dtype or input.dtype, device=device or input.device,
              requires_grad=requires_grad)


def zeros_like(input: Tensor, dtype: DTypeLike | None = None, device: DeviceLike | None = None,
               requires_grad: bool = False) -> Tensor:
    return _like(zeros, input, dtype, device, requires_grad)


def ones_like(input: Tensor, dtype: DTypeLike | None = None, device: DeviceLike | None = None,
              requires_grad: bool = False) -> Tensor:
    return _like(ones, input, dtype, device, requires_grad)


def empty_like(input: Tensor, dtype: DTypeLike | None = None, device: DeviceLike | None = None,
               requires_grad: bool = False) -> Tensor:
    return _like(empty, input, dtype, device, requires_grad)


def full_like(input: Tensor, fill_value: float, dtype: DTypeLike | None = None,
              device: DeviceLike | None = None, requires_grad: bool = False) -> Tensor:
    return _like(full, input, dtype, device, requires_grad, fill_value)


def arange(start: float, end: float | None = None, step: float = 1, dtype: DTypeLike | None = None,
           device: DeviceLike | None = None, requires_grad: bool = False) -> Tensor:
    if end is None:
        start, end = 0, start
    default = None if any(isinstance(v, float) for v in (start, end, step)) else dtypes.int64
    device, B = _device(device)
    return _finish(B.arange(start, end, step, dtype=_dtype(dtype or default)), device,
                   requires_grad)


def linspace(start: float, end: float, steps: int, dtype: DTypeLike | None = None,
             device: DeviceLike | None = None, requires_grad: bool = False) -> Tensor:
    device, B = _device(device)
    return _finish(B.linspace(start, end, steps, dtype=_dtype(dtype)),
                   device, requires_grad)


def eye(n: int, m: int | None = None, dtype: DTypeLike | None = None,
        device: DeviceLike | None = None, requires_grad: bool = False) -> Tensor:
    device, B = _device(device)
    return _finish(B.eye(n, m, dtype=_dtype(dtype)), device,
                   requires_grad)


def _random(name: str, size: Sequence[Any], dtype: DTypeLike | None, device: DeviceLike | None,
            requires_grad: bool, generator: Generator | None, *args: Any) -> Tensor:
    device, B = _device(device)
    from .ops.random import native  # (the ops package imports this module)
    dt = _dtype(dtype)
    if dtypes.is_complex(dt) and name in ("rand", "randn"):  # as PyTorch: both parts drawn,
        parts = getattr(B, name)(_size(size) + (2,), dtypes.real_of(dt),  # a normal's of
                                 native(name, generator, device))  # variance 1/2 each
        if name == "randn":
            parts = B.mul(parts, 0.5 ** 0.5)
        data = B.astype(B.add(B.getitem(parts, (..., 0)), B.mul(B.getitem(parts, (..., 1)), 1j)),
                        dt)
        return _finish(data, device, requires_grad)
    data = getattr(B, name)(*args, _size(size), dt, native(name, generator, device))
    return _finish(data, device, requires_grad)


def rand(*size: int | Sequence[int], generator: Generator | None = None,
         dtype: DTypeLike | None = None, device: DeviceLike | None = None,
         requires_grad: bool = False) -> Tensor:
    """Uniform on [0, 1)."""
    return _random("rand", size, dtype, device, requires_grad, generator)


def randn(*size: int | Sequence[int], generator: Generator | None = None,
          dtype: DTypeLike | None = None, device: DeviceLike | None = None,
          requires_grad: bool = False) -> Tensor:
    """Standard normal."""
    return _random("randn", size, dtype, device, requires_grad, generator)


def randint(low: int = 0, high: int | Sequence[int] | None = None,
            size: Sequence[int] | None = None, *, generator: Generator | None = None,
            dtype: DTypeLike | None = None, device: DeviceLike | None = None,
            requires_grad: bool = False) -> Tensor:
    """Integers uniform on [low, high); ``randint(high, size)`` as in PyTorch."""
    if size is None:
        low, high, size = 0, low, high  # type: ignore[assignment]
    return _random("randint", (size,), dtype or dtypes.int64, device, requires_grad, generator,
                   low, high)


def randperm(n: int, *, generator: Generator | None = None, dtype: DTypeLike | None = None,
             device: DeviceLike | None = None, requires_grad: bool = False) -> Tensor:
    """A random permutation of 0..n-1."""
    device, B = _device(device)
    from .ops.random import native
    keys = B.rand((n,), dtypes.float64, native("randperm", generator, device))
    return _finish(B.astype(B.argsort(keys), dtype or dtypes.int64), device, requires_grad)


# the seed of the global random stream, as torch.initial_seed() reports
_initial_seed: list[int | None] = [None]


def manual_seed(seed: int) -> None:
    """Seed the random numbers of every backend (those built later too), so that a run repeats.
    As torch: ``int(seed)`` (1.5 and "3" are accepted) in [-2**63, 2**64), a negative one taken
    modulo 2**64."""
    try:
        seed = int(seed)
    except (TypeError, ValueError) as e:
        raise TypeError(f"manual_seed: expected an int seed, got {type(seed).__name__} "
                        f"{seed!r} ({e})") from None
    if not -(1 << 63) <= seed < 1 << 64:
        raise ValueError(f"manual_seed: seed {seed} is out of range; it must be within "
                         "[-2**63, 2**64)")
    seed %= 1 << 64
    backends.manual_seed(seed)
    _initial_seed[0] = seed


def seed() -> int:
    """Seed the global random stream from OS entropy (a 64-bit seed) and return that seed; as
    at import, where every process starts its stream this way unless ``manual_seed`` is called."""
    new = int.from_bytes(os.urandom(8), "little")
    manual_seed(new)
    return new


def initial_seed() -> int:
    """The seed of the global random stream: the last ``manual_seed``/``seed``, else the one
    drawn from the OS at import."""
    return _initial_seed[0]  # type: ignore[return-value]  # (set at import)


seed()  # a fresh stream per process, as PyTorch: unseeded runs must not repeat each other


# -- PyTorch's legacy constructors: Tensor(2, 3), FloatTensor([1, 2]), x.new(...) -----------------
def _legacy_new(what: str, dtype: np.dtype | None, args: tuple[Any, ...],
                device: DeviceLike | None, kwargs: dict[str, Any]) -> Tensor:
    """The tensor of PyTorch's legacy constructor ``what(*args, device=...)`` of ``dtype`` (None:
    the default float dtype): sizes (ints) give a zero-filled tensor of that shape, one sequence
    or array gives a copy of its data, a tensor gives its storage, nothing an empty tensor."""
    size = kwargs.pop("size", None)
    if kwargs:
        raise TypeError(f"{what}(): unexpected keyword argument {next(iter(kwargs))!r}; the "
                        "legacy constructor takes sizes or data, and device=; for dtype=, "
                        "requires_grad=, ... use tensorlite.tensor(data, ...) or "
                        "tensorlite.zeros(size, ...)")
    if size is not None:
        if args:
            raise TypeError(f"{what}(): got both sizes {args} and size={size}; give one")
        args = tuple(size)
        if not all(_is_int(n) for n in args):
            raise TypeError(f"{what}(): size must be a tuple of ints, got {size!r}")
    if device is not None:
        device = str(device).split(":")[0]
        if device not in ("cpu", "cuda"):
            raise RuntimeError(f"{what}(): unknown device {device!r}; use 'cpu' or 'cuda'")
        if what in _LEGACY_BY_NAME and device != "cpu":
            raise RuntimeError(f"legacy constructor expects device type: cpu but device type: "
                               f"{device} was passed ({what} is a CPU type; use "
                               f"tensorlite.tensor(data, dtype=..., device={device!r}))")
    if len(args) == 1 and isinstance(args[0], Tensor):
        src = args[0]
        if dtype is not None and src.dtype != dtype:
            raise TypeError(f"{what}(): expected a tensor of dtype {dtype}, got {src.dtype} "
                            f"({list(src.shape)}); convert it with .to({dtype})")
        if device is not None and device != src.device:
            raise RuntimeError(f"{what}(): the tensor is on {src.device}, not on {device}; move "
                               f"it with .to({device!r})")
        from .tensor import _init, make_view
        t = Tensor.__new__(Tensor)  # the same storage and version counter, as PyTorch's alias
        _init(t, src._data, src.device, False, version=src._version)
        make_view(t, src)
        return t
    dtype = dtypes.get_default_dtype() if dtype is None else dtype
    if all(_is_int(n) for n in args):  # sizes (none: an empty tensor)
        shape = args if args else (0,)
        if any(n < 0 for n in shape):
            bad = next(n for n in shape if n < 0)
            raise RuntimeError(f"{what}(): trying to create tensor with negative dimension "
                               f"{bad}: {list(shape)}")
        return zeros(tuple(int(n) for n in shape), dtype=dtype, device=device)
    if len(args) == 1:
        data = args[0]
        if isinstance(data, (bool, float, complex, str, bytes)) or np.ndim(data) == 0 and \
                not isinstance(data, (list, tuple)):
            raise TypeError(f"{what}(): data must be a sequence (got {type(data).__name__}); "
                            f"for a tensor of size n use {what}(n), for one value use "
                            f"{what}([value])")
        return tensor(data, dtype=dtype, device=device)
    raise TypeError(f"{what}(): expected sizes (ints) or one sequence of data, got "
                    f"({', '.join(type(a).__name__ for a in args)})")


def _is_int(n: object) -> bool:
    return isinstance(n, (int, np.integer)) and not isinstance(n, (bool, np.bool_))


class _LegacyType(type):
    """The metaclass of PyTorch's legacy tensor types: calling one builds a Tensor of its dtype
    (``FloatTensor(2, 3)``, ``LongTensor([1, 2])``), and ``isinstance(t, FloatTensor)`` asks
    whether ``t`` is a dense CPU float32 tensor, as in PyTorch."""
    dtype: np.dtype | None
    torch_dtype: str

    def __call__(cls, *args: Any, device: DeviceLike | None = None, **kwargs: Any) -> Tensor:
        if cls.dtype is None:
            raise TypeError(f"{cls.__name__}: tensorlite has no {cls.torch_dtype} dtype (it "
                            f"supports {', '.join(map(str, dtypes.ALL))}); use BoolTensor for "
                            "masks, IntTensor or LongTensor for integers")
        return _legacy_new(cls.__name__, cls.dtype, args, device, kwargs)

    def __instancecheck__(cls, obj: object) -> bool:
        return (isinstance(obj, Tensor) and not obj.is_sparse and obj.device == "cpu"
                and obj.dtype == cls.dtype)

    def __repr__(cls) -> str:
        return f"<class 'tensorlite.{cls.__name__}'>"


def _legacy_type(name: str, dtype: np.dtype | None, torch_dtype: str | None = None) -> _LegacyType:
    return _LegacyType(name, (), {"dtype": dtype, "torch_dtype": torch_dtype or str(dtype),
                                  "__module__": "tensorlite", "__slots__": (),
                                  "__doc__": f"PyTorch's legacy {name}: a CPU tensor of "
                                             f"{torch_dtype or dtype}."})


FloatTensor = _legacy_type("FloatTensor", dtypes.float32)
DoubleTensor = _legacy_type("DoubleTensor", dtypes.float64)
HalfTensor = _legacy_type("HalfTensor", dtypes.float16)
LongTensor = _legacy_type("LongTensor", dtypes.int64)
IntTensor = _legacy_type("IntTensor", dtypes.int32)
BoolTensor = _legacy_type("BoolTensor", dtypes.bool_)
ByteTensor = _legacy_type("ByteTensor", dtypes.uint8)
CharTensor = _legacy_type("CharTensor", dtypes.int8)
ShortTensor = _legacy_type("ShortTensor", dtypes.int16)
BFloat16Tensor = _legacy_type("BFloat16Tensor", dtypes.bfloat16)
_LEGACY = (FloatTensor, DoubleTensor, HalfTensor, LongTensor, IntTensor, BoolTensor, ByteTensor,
           CharTensor, ShortTensor, BFloat16Tensor)
_LEGACY_BY_NAME = {t.__name__: t for t in _LEGACY}
_LEGACY_BY_DTYPE = {t.dtype: t for t in _LEGACY if t.dtype is not None}
# (PyTorch names complex tensors' types so but has no constructors for them)
_TYPE_NAME_ONLY = {dtypes.complex64: "ComplexFloatTensor", dtypes.complex128: "ComplexDoubleTensor"}


def _legacy_type_name(dtype: np.dtype, device: str) -> str:
    """PyTorch's ``x.type()``: "torch.FloatTensor", "torch.cuda.LongTensor", ..."""
    name = _TYPE_NAME_ONLY.get(dtype) or _LEGACY_BY_DTYPE[dtype].__name__
    return f"torch.{'cuda.' if device == 'cuda' else ''}{name}"


def _legacy_target(arg: Any) -> tuple[np.dtype | None, str | None]:
    """``(dtype, device)`` for ``x.type(arg)``: a dtype, a legacy type, or a legacy type's name
    ("torch.FloatTensor", "tensorlite.cuda.LongTensor"; device None unless it names cuda)."""
    if isinstance(arg, _LegacyType):
        cls, device = arg, None
    elif isinstance(arg, str) and arg.rpartition(".")[2] in _LEGACY_BY_NAME:
        prefix, _, name = arg.rpartition(".")
        cls, device = _LEGACY_BY_NAME[name], "cuda" if prefix.endswith(".cuda") else "cpu"
    else:
        return dtypes.as_dtype(arg), None
    if cls.dtype is None:
        cls()  # raises: no such dtype
    return cls.dtype, device
