"""Thread-local switches of the tape: grad mode and anomaly detection."""
from __future__ import annotations

import copy
import functools
import threading
from typing import Any, Callable, TypeVar, overload

_F = TypeVar("_F", bound=Callable[..., Any])
_S = TypeVar("_S", bound="_Switch")


class _State(threading.local):
    grad_enabled = True
    inference = False


class flags:
    """Process-wide switches (anomaly detection is global, as in PyTorch)."""
    anomaly = False


state = _State()


def is_grad_enabled() -> bool:
    return state.grad_enabled


def is_inference_mode_enabled() -> bool:
    return state.inference


class _Switch:
    """A context manager that is also a decorator, setting one thread-local flag for its block."""

    target: Any = state
    field: str = ""
    value: bool = False
    _prev: Any

    @overload
    def __new__(cls: type[_S]) -> _S: ...
    @overload  # bare ``@no_grad`` returns the decorated function, not a _Switch
    def __new__(cls, func: _F) -> _F: ...  # type: ignore[misc]

    def __new__(cls, func: Any = None, *args: Any) -> Any:
        self = super().__new__(cls)
        return self(func) if callable(func) else self  # bare @no_grad decorates directly

    def __enter__(self: _S) -> _S:
        self._prev = getattr(self.target, self.field)
        setattr(self.target, self.field, self.value)
        return self

    def __exit__(self, *exc: object) -> None:
        setattr(self.target, self.field, self._prev)

    def __call__(self, fn: _F) -> _F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with copy.copy(self):
                return fn(*args, **kwargs)
        return wrapper  # type: ignore[return-value]  # wraps keeps fn's signature


class no_grad(_Switch):
    """Ops inside record nothing on the tape (inference, optimizer updates)."""
    field, value = "grad_enabled", False


class enable_grad(_Switch):
    """Turn recording back on inside a ``no_grad`` block."""
    field, value = "grad_enabled", True


class detect_anomaly(_Switch):
    """Record where each op was created and fail on the first NaN/inf produced in backward,
    naming that op and its creation site.  Slow: for debugging."""
    target, field, value = flags, "anomaly", True


class set_grad_enabled(_Switch):
    field = "grad_enabled"

    def __init__(self, mode: bool = True) -> None:
        self.value = bool(mode)

    def __new__(cls, mode: bool = True) -> set_grad_enabled:
        return object.__new__(cls)


class inference_mode(_Switch):
    """``no_grad`` for inference, as PyTorch's: nothing is recorded inside, and
    ``is_inference_mode_enabled()`` is True.  ``inference_mode(False)`` turns it off again (and
    grad mode on) inside an enclosing one.  A context manager and a decorator, bare or called."""

    mode: bool

    @overload
    def __new__(cls, mode: bool = True) -> inference_mode: ...
    @overload
    def __new__(cls, mode: _F) -> _F: ...  # type: ignore[misc]

    def __new__(cls, mode: Any = True) -> Any:
        self = object.__new__(cls)
        if callable(mode):  # bare @inference_mode
            self.mode = True
            return self(mode)
        self.mode = bool(mode)
        return self

    def __enter__(self) -> inference_mode:
        self._prev = state.grad_enabled, state.inference
        state.grad_enabled, state.inference = not self.mode, self.mode
        return self

    def __exit__(self, *exc: object) -> None:
        state.grad_enabled, state.inference = self._prev
