"""Thread-local switches of the tape: grad mode and anomaly detection."""
import copy
import functools
import threading


class _State(threading.local):
    grad_enabled = True
    inference = False


class flags:
    """Process-wide switches (anomaly detection is global, as in PyTorch)."""
    anomaly = False


state = _State()


def is_grad_enabled():
    return state.grad_enabled


def is_inference_mode_enabled():
    return state.inference


class _Switch:
    """A context manager that is also a decorator, setting one thread-local flag for its block."""

    target, field, value = state, None, None

    def __new__(cls, func=None, *args):
        self = super().__new__(cls)
        return self(func) if callable(func) else self  # bare @no_grad decorates directly

    def __enter__(self):
        self._prev = getattr(self.target, self.field)
        setattr(self.target, self.field, self.value)
        return self

    def __exit__(self, *exc):
        setattr(self.target, self.field, self._prev)

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with copy.copy(self):
                return fn(*args, **kwargs)
        return wrapper


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

    def __init__(self, mode=True):
        self.value = bool(mode)

    def __new__(cls, mode=True):
        return object.__new__(cls)


class inference_mode(_Switch):
    """``no_grad`` for inference, as PyTorch's: nothing is recorded inside, and
    ``is_inference_mode_enabled()`` is True.  ``inference_mode(False)`` turns it off again (and
    grad mode on) inside an enclosing one.  A context manager and a decorator, bare or called."""

    def __new__(cls, mode=True):
        self = object.__new__(cls)
        if callable(mode):  # bare @inference_mode
            self.mode = True
            return self(mode)
        return self

    def __init__(self, mode=True):
        if not callable(mode):
            self.mode = bool(mode)

    def __enter__(self):
        self._prev = state.grad_enabled, state.inference
        state.grad_enabled, state.inference = not self.mode, self.mode
        return self

    def __exit__(self, *exc):
        state.grad_enabled, state.inference = self._prev
