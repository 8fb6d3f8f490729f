"""Random sampling as PyTorch's: ``Generator`` objects, the ``generator=`` argument, the rng
state, and the sampling functions and in-place samplers.

A ``Generator`` holds one independent stream of its device's backend (``Backend.generator``);
``generator=None`` draws from the backend's default stream, which ``manual_seed`` resets.  The
CPU backends draw from NumPy's generator, so one seed gives the same numbers on numpy and numba
(not PyTorch's numbers: its generator is another algorithm).  Samples carry no gradient.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import backends, dtypes
from ..creation import _device, _dtype, _finish, manual_seed
from ..tensor import Tensor, describe, wrap
from .common import backend_of, number
from .inplace import apply_
from .registry import op

if TYPE_CHECKING:
    from typing_extensions import Self

    from ..dtypes import DTypeLike
    from ..tensor import DeviceLike


class Generator:
    """An independent random stream on ``device`` (PyTorch's ``torch.Generator``), seeded from
    the OS until ``manual_seed`` is called."""

    def __init__(self, device: DeviceLike = "cpu") -> None:
        self.device = backends.for_device(str(device).split(":")[0]).device
        self._native: Any = None
        self._initial: int | None
        self.seed()

    def _backend(self) -> Any:
        return backends.for_device(self.device)

    def manual_seed(self, seed: int) -> Self:
        """Reset the stream to ``seed`` (an int); returns the generator."""
        seed = _check_seed(seed)
        self._initial, self._native = seed, self._backend().generator(seed)
        return self

    def seed(self) -> int:
        """Reseed from the OS; returns the new seed."""
        self.manual_seed(int.from_bytes(os.urandom(8), "little") >> 1)
        return self._initial  # type: ignore[return-value]

    def initial_seed(self) -> int:
        """The seed the stream started from."""
        return self._initial  # type: ignore[return-value]

    def get_state(self) -> Tensor:
        """The stream's state, a tensor of bytes that ``set_state`` restores."""
        return _state_tensor(self._backend().get_state(self._native))

    def set_state(self, new_state: Tensor) -> Self:
        """Restore a state from ``get_state``; returns the generator."""
        self._backend().set_state(_state_bytes("Generator.set_state", new_state), self._native)
        return self

    def __repr__(self) -> str:
        return f"<tensorlite.Generator object on {self.device}>"


def _check_seed(seed: Any) -> int:
    try:
        seed = int(seed)
    except (TypeError, ValueError):
        raise TypeError(f"manual_seed: expected an int seed, got {type(seed).__name__}") from None
    return seed % (1 << 64)


def _state_tensor(data: bytes) -> Tensor:
    from ..creation import tensor
    return tensor(np.frombuffer(data, dtype=np.uint8))  # uint8, as PyTorch's


def _state_bytes(op: str, state: object) -> bytes:
    if not isinstance(state, Tensor):
        raise TypeError(f"{op}: expected a tensor from get_state(), got {type(state).__name__}")
    return bytes(state.backend.to_host(state._data).astype(np.uint8))


def get_rng_state() -> Tensor:
    """The state of the default CPU stream (a tensor of bytes)."""
    return _state_tensor(backends.for_device("cpu").get_state())


def set_rng_state(new_state: Tensor) -> None:
    """Restore the default CPU stream from ``get_rng_state()``."""
    backends.for_device("cpu").set_state(_state_bytes("set_rng_state", new_state))


def native(op: str, generator: Generator | None, device: str) -> Any:
    """The backend stream ``generator`` draws from on ``device`` (None: the default one)."""
    if generator is None:
        return None
    if not isinstance(generator, Generator):
        raise TypeError(f"{op}: generator must be a tensorlite.Generator, got "
                        f"{type(generator).__name__}")
    if generator.device != device:
        raise RuntimeError(f"{op}: expected a '{device}' device type for generator but found "
                           f"'{generator.device}'")
    return generator._native


def _draw(op: str, like: Tensor, prim: str, gen: Any, *args: Any,
          shape: Sequence[int] | None = None, dtype: np.dtype = dtypes.float64) -> Tensor:
    """Samples of backend primitive ``prim`` (rand, randn, exponential, randint with ``args``)
    in ``like``'s shape (or ``shape``) and device, as a tensor of ``dtype``."""
    B = backend_of(like, op)
    shape = like.shape if shape is None else shape
    return wrap(getattr(B, prim)(*args, tuple(shape), dtype, gen), like.device)


def _check_probabilities(op: str, p: Tensor) -> None:
    if not bool(((p >= 0) & (p <= 1)).all()):
        raise RuntimeError(f"{op}: expected all probabilities in [0, 1] ({describe(p)})")


# -- sampling functions -------------------------------------------------------------------------
@op()
def bernoulli(input: Tensor, p: float | None = None, *,
              generator: Generator | None = None) -> Tensor:
    """1 with probability ``input`` (or ``p``) elementwise, else 0, in ``input``'s dtype."""
    if dtypes.kind(input.dtype) != 2:
        raise RuntimeError(f"bernoulli: expected a floating point tensor of probabilities, got "
                           f"{describe(input)}")
    gen = native("bernoulli", generator, input.device)
    if p is None:
        _check_probabilities("bernoulli", input)
        p = input.detach()  # type: ignore[assignment]
    else:
        p = number("bernoulli", p)
    return (_draw("bernoulli", input, "rand", gen) < p).to(input.dtype)


@op()
def multinomial(input: Tensor, num_samples: int, replacement: bool = False, *,
                generator: Generator | None = None) -> Tensor:
    """``num_samples`` category indices per row of the weights ``input`` (1-d or 2-d)."""
    if input.ndim not in (1, 2) or dtypes.kind(input.dtype) != 2:
        raise RuntimeError(f"multinomial: prob_dist must be a 1 or 2 dim floating point tensor, "
                           f"got {describe(input)}")
    if num_samples <= 0:
        raise RuntimeError(f"multinomial: cannot sample n_sample <= 0 samples (got {num_samples})")
    n = input.shape[-1]
    if not replacement and num_samples > n:
        raise RuntimeError(f"multinomial: cannot sample n_sample > prob_dist.size(-1) samples "
                           f"without replacement ({num_samples} > {n}); pass replacement=True")
    rows = input.reshape(-1, n) if input.ndim == 2 else input.reshape(1, n)
    if not bool(rows.isfinite().all()) or bool((rows < 0).any()):
        raise RuntimeError("multinomial: probability tensor contains either `inf`, `nan` or "
                           "element < 0")
    positive = (rows > 0).sum(-1)
    if bool((positive == 0).any()):
        raise RuntimeError("multinomial: invalid multinomial distribution (sum of probabilities "
                           "<= 0)")
    if not replacement and bool((positive < num_samples).any()):
        raise RuntimeError("multinomial: invalid multinomial distribution (with replacement="
                           "False, not enough non-negative category to sample)")
    gen = native("multinomial", generator, input.device)
    B = backend_of(input, "multinomial")
    out = wrap(B.multinomial(rows._data, num_samples, replacement, gen), input.device)
    return out if input.ndim == 2 else out.reshape(num_samples)


@op(method=False)
def poisson(input: Tensor, generator: Generator | None = None) -> Tensor:
    """Poisson samples with rates ``input``, in its dtype."""
    gen = native("poisson", generator, input.device)
    B = backend_of(input, "poisson")
    if bool((input < 0).any()):
        raise RuntimeError(f"poisson: invalid Poisson rate, expected rate to be non-negative "
                           f"({describe(input)})")
    return wrap(B.astype(B.poisson(input._data, gen), input.dtype), input.device)


@op(method=False)
def normal(mean: Tensor | float, std: Tensor | float = 1.0, size: Sequence[int] | None = None, *,
           generator: Generator | None = None, dtype: DTypeLike | None = None,
           device: DeviceLike | None = None, requires_grad: bool = False) -> Tensor:
    """Normal samples: ``normal(mean, std)`` with tensors or numbers broadcast together, or
    ``normal(mean, std, size)`` with numbers."""
    tensors = [t for t in (mean, std) if isinstance(t, Tensor)]
    if not tensors:
        if size is None:
            raise TypeError("normal: with a number mean and std, give size= (the shape to draw)")
        device, B = _device(device)
        if std < 0:
            raise RuntimeError(f"normal: expected std >= 0.0, got {std}")
        z = wrap(B.randn(tuple(size), _dtype(dtype), native("normal", generator, device)),
                 device)
        return _finish((z * std + mean)._data, device, requires_grad)
    if isinstance(std, Tensor) and bool((std < 0).any()):
        raise RuntimeError(f"normal: expected all elements of std >= 0.0 ({describe(std)})")
    if not isinstance(std, Tensor) and std < 0:
        raise RuntimeError(f"normal: expected std >= 0.0, got {std}")
    from .pointwise import add, mul
    first = tensors[0]
    shape = add(mul(mean, 0) if isinstance(mean, Tensor) else mean,
                mul(std, 0) if isinstance(std, Tensor) else std).detach()
    gen = native("normal", generator, first.device)
    z = _draw("normal", first, "randn", gen, shape=shape.shape, dtype=shape.dtype)
    return (z * std + mean).detach()


def _like(op: str, draw: Callable[[Any, np.dtype], Any], input: Tensor,
          dtype: DTypeLike | None, device: DeviceLike | None, requires_grad: bool) -> Tensor:
    dtype = input.dtype if dtype is None else dtypes.as_dtype(dtype)
    device, B = _device(input.device if device is None else device)
    return _finish(draw(B, dtype), device, requires_grad)


@op(method=False)
def rand_like(input: Tensor, *, dtype: DTypeLike | None = None, device: DeviceLike | None = None,
              requires_grad: bool = False, generator: Generator | None = None) -> Tensor:
    """Uniform [0, 1) samples of ``input``'s shape (and dtype, device unless given)."""
    return _like("rand_like", lambda B, dt: B.rand(input.shape, dt, native(
        "rand_like", generator, B.device)), input, dtype, device, requires_grad)


@op(method=False)
def randn_like(input: Tensor, *, dtype: DTypeLike | None = None,
               device: DeviceLike | None = None, requires_grad: bool = False,
               generator: Generator | None = None) -> Tensor:
    """Standard normal samples of ``input``'s shape (and dtype, device unless given)."""
    return _like("randn_like", lambda B, dt: B.randn(input.shape, dt, native(
        "randn_like", generator, B.device)), input, dtype, device, requires_grad)


@op(method=False)
def randint_like(input: Tensor, low: int = 0, high: int | None = None, *,
                 dtype: DTypeLike | None = None, device: DeviceLike | None = None,
                 requires_grad: bool = False, generator: Generator | None = None) -> Tensor:
    """Integers uniform on [low, high) of ``input``'s shape; ``randint_like(x, high)`` too."""
    if high is None:
        low, high = 0, low
    if low >= high:
        raise RuntimeError(f"randint_like: random_ expects 'from' to be less than 'to', but got "
                           f"from={low} >= to={high}")
    return _like("randint_like", lambda B, dt: B.astype(B.randint(
        low, high, input.shape, dtypes.int64, native("randint_like", generator, B.device)), dt),
        input, dtype, device, requires_grad)


# -- in-place samplers: the tensor's values replaced by samples of its shape and dtype ----------
def _fill(op: str, t: Tensor, draw: Callable[[], Tensor]) -> Tensor:
    """``t``'s values <- ``draw()`` (a float64 or int64 tensor of samples), cast to its dtype."""
    return apply_(op, t, lambda t: draw().detach().to(t.dtype))


@op()
def normal_(self: Tensor, mean: float = 0.0, std: float = 1.0, *,
            generator: Generator | None = None) -> Tensor:
    if std < 0:
        raise RuntimeError(f"normal_: expected std >= 0.0, got {std}")
    gen = native("normal_", generator, self.device)
    return _fill("normal_", self, lambda: _draw("normal_", self, "randn", gen) * std + mean)


@op()
def uniform_(self: Tensor, *args: float, generator: Generator | None = None,
             **kwargs: float) -> Tensor:
    """``uniform_(from=0, to=1)`` (PyTorch's names: ``from`` is given by position or as
    ``**{"from": a}``)."""
    lo, hi = _from_to("uniform_", args, kwargs, 0.0, 1.0)
    gen = native("uniform_", generator, self.device)
    return _fill("uniform_", self, lambda: _draw("uniform_", self, "rand", gen) * (hi - lo) + lo)


def _from_to(op: str, args: Sequence[Any], kwargs: dict[str, Any], lo: Any, hi: Any
             ) -> tuple[Any, Any]:
    names = ("from", "to")
    values = dict(zip(names, args))
    for k, v in kwargs.items():
        if k not in names or k in values:
            raise TypeError(f"{op}() got an unexpected keyword argument {k!r}")
        values[k] = v
    return values.get("from", lo), values.get("to", hi)


@op()
def bernoulli_(self: Tensor, p: Tensor | float = 0.5, *,
               generator: Generator | None = None) -> Tensor:
    gen = native("bernoulli_", generator, self.device)
    if isinstance(p, Tensor):
        _check_probabilities("bernoulli_", p)
        p = p.detach()
    elif not 0 <= p <= 1:
        raise RuntimeError(f"bernoulli_: expected p in [0, 1], got {p}")
    return _fill("bernoulli_", self, lambda: _draw("bernoulli_", self, "rand", gen) < p)


@op()
def exponential_(self: Tensor, lambd: float = 1.0, *,
                 generator: Generator | None = None) -> Tensor:
    if lambd <= 0:
        raise RuntimeError(f"exponential_: expects lambda > 0.0, but found lambda={lambd}")
    gen = native("exponential_", generator, self.device)
    return _fill("exponential_", self,
                 lambda: _draw("exponential_", self, "exponential", gen) / lambd)


@op()
def geometric_(self: Tensor, p: float, *, generator: Generator | None = None) -> Tensor:
    """Trials up to the first success (1, 2, ...) with success probability ``p``."""
    if not 0 < p < 1:
        raise RuntimeError(f"geometric_: expects p to be in (0, 1), but got p={p}")
    gen = native("geometric_", generator, self.device)
    import math
    scale = -1.0 / math.log1p(-p)  # ceil(E / -log(1 - p)) of an exponential E is geometric
    return _fill("geometric_", self, lambda: (
        _draw("geometric_", self, "exponential", gen) * scale).to(dtypes.int64) + 1)


@op()
def random_(self: Tensor, *args: int, generator: Generator | None = None, **kwargs: int) -> Tensor:
    """Integers uniform on [from, to) (``random_(to)``, ``random_(from, to)``); with no bound,
    on [0, 2**mantissa] for a float dtype and [0, max] for an integer one, as PyTorch."""
    if len(args) == 1 and not kwargs:
        lo, hi = 0, args[0]
    else:
        lo, hi = _from_to("random_", args, kwargs, 0, None)
    if hi is None:
        dt = np.dtype(self.dtype)
        hi = (2 if dt.kind == "b" else (1 << (np.finfo(dt).nmant + 1)) + 1 if dt.kind == "f"
              else int(np.iinfo(dt).max) + 1)
    if lo >= hi:
        raise RuntimeError(f"random_: expects 'from' to be less than 'to', but got from={lo} >= "
                           f"to={hi}")
    gen = native("random_", generator, self.device)
    return _fill("random_", self, lambda: _draw("random_", self, "randint", gen, lo,
                                                min(hi, 1 << 63), dtype=dtypes.int64))


# set below: the Generator whose stream is the CPU default one
default_generator: Generator = None  # type: ignore[assignment]


class _DefaultGenerator(Generator):
    """``tensorlite.default_generator``: the CPU backends' default stream as a Generator."""

    def __init__(self) -> None:
        self.device, self._native, self._initial = "cpu", None, None

    def manual_seed(self, seed: int) -> Self:
        manual_seed(seed)
        return self

    def seed(self) -> int:
        seed = int.from_bytes(os.urandom(8), "little") >> 1
        manual_seed(seed)
        return seed

    def initial_seed(self) -> int:
        from ..creation import initial_seed
        return initial_seed()


default_generator = _DefaultGenerator()
