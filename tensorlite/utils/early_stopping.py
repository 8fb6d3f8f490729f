"""Early stopping: stop training when a validation metric has stopped improving."""
from __future__ import annotations

import collections
import copy
import math
from typing import Any, Protocol, SupportsFloat, Union

from ..tensor import Tensor, wrap


class _HasStateDict(Protocol):
    """What ``step`` and ``restore`` take as ``model``: a Module, an optimizer, ..."""

    def state_dict(self) -> Any: ...

    def load_state_dict(self, state_dict: Any) -> Any: ...


# A number or a one-element tensor
Metric = Union[SupportsFloat, Tensor]


def _snapshot(obj: Any) -> Any:
    """A deep copy of a state dict: tensors cloned (detached, own storage), containers rebuilt,
    anything else deep-copied."""
    if isinstance(obj, Tensor):
        return wrap(obj.backend.copy(obj._data), obj.device)
    if type(obj) in (dict, collections.OrderedDict):
        return type(obj)((k, _snapshot(v)) for k, v in obj.items())
    if type(obj) in (list, tuple):
        return type(obj)(_snapshot(v) for v in obj)
    return copy.deepcopy(obj)


def _as_float(metric: Metric) -> float:
    if isinstance(metric, Tensor):
        if metric.numel() != 1:
            raise ValueError(f"EarlyStopping.step: the metric must be a number or a one-element "
                             f"tensor, got a tensor of shape {list(metric.shape)}")
        return float(metric.item())
    if isinstance(metric, bool) or not hasattr(metric, "__float__"):
        raise TypeError(f"EarlyStopping.step: the metric must be a number or a one-element "
                        f"tensor, got {type(metric).__name__}")
    return float(metric)


class EarlyStopping:
    """Tracks a metric once per epoch and says when to stop.

    ``step(metric, model=None)`` counts an epoch: the metric improves when it is lower than
    ``best - min_delta`` (``mode='min'``) or higher than ``best + min_delta`` (``mode='max'``);
    the first epoch always sets ``best`` unless its metric is NaN (NaN never improves).  After
    ``patience`` consecutive epochs without improvement (``patience=0``: the first one)
    ``step`` returns True and ``should_stop`` is True; an improvement resets the count.
    Epochs are numbered from 0 in the order of ``step`` calls (``best_epoch``).

    With ``restore_best=True`` and a ``model`` (anything with ``state_dict()`` and
    ``load_state_dict()``) given to ``step``, every improvement keeps a copy of
    ``model.state_dict()`` with cloned tensors, and ``restore(model)`` loads it back.
    """

    def __init__(self, patience: int = 5, min_delta: float = 0.0, mode: str = "min",
                 restore_best: bool = True) -> None:
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise ValueError(f"EarlyStopping: patience must be a non-negative int, got "
                             f"{patience!r}")
        if isinstance(min_delta, bool) or not isinstance(min_delta, (int, float)) \
                or not min_delta >= 0 or math.isinf(min_delta):
            raise ValueError(f"EarlyStopping: min_delta must be a finite number >= 0, got "
                             f"{min_delta!r} (mode decides the direction)")
        if mode not in ("min", "max"):
            raise ValueError(f"EarlyStopping: mode must be 'min' or 'max', got {mode!r}")
        self.patience, self.min_delta, self.mode = patience, float(min_delta), mode
        self.restore_best = bool(restore_best)
        self.reset()

    def reset(self) -> None:
        """Forget every epoch seen so far."""
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch: int | None = None
        self.best_state: Any = None
        self.num_bad_epochs = 0
        self.epoch = 0          # how many epochs step() has seen
        self.should_stop = False

    def is_better(self, metric: float, best: float) -> bool:
        if self.mode == "min":
            return metric < best - self.min_delta
        return metric > best + self.min_delta

    def step(self, metric: Metric, model: _HasStateDict | None = None) -> bool:
        """Record one epoch's ``metric``; returns True when training should stop."""
        value = _as_float(metric)
        first = self.best_epoch is None and not math.isnan(value)
        if first or self.is_better(value, self.best):
            self.best, self.best_epoch, self.num_bad_epochs = value, self.epoch, 0
            if self.restore_best:
                # without a model there is nothing to keep: drop the older, no longer best copy
                self.best_state = None if model is None else _snapshot(model.state_dict())
        else:
            self.num_bad_epochs += 1
        self.epoch += 1
        self.should_stop = self.num_bad_epochs >= max(self.patience, 1)
        return self.should_stop

    __call__ = step

    def restore(self, model: _HasStateDict) -> Any:
        """Load the best epoch's weights into ``model``; returns what ``load_state_dict``
        returns."""
        if not self.restore_best:
            raise RuntimeError("EarlyStopping.restore: restore_best=False, so no weights were "
                               "kept; create it with restore_best=True")
        if self.best_state is None:
            raise RuntimeError("EarlyStopping.restore: no best weights were kept; pass the "
                               "model to step(metric, model) on every epoch")
        return model.load_state_dict(_snapshot(self.best_state))

    def state_dict(self) -> dict[str, Any]:
        """The tracker's own state (for checkpoints; ``tensorlite.save`` can hold it)."""
        return {"best": self.best, "best_epoch": self.best_epoch, "best_state": self.best_state,
                "num_bad_epochs": self.num_bad_epochs, "epoch": self.epoch,
                "should_stop": self.should_stop}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for key in ("best", "best_epoch", "best_state", "num_bad_epochs", "epoch",
                    "should_stop"):
            setattr(self, key, state[key])

    def __repr__(self) -> str:
        return (f"EarlyStopping(patience={self.patience}, min_delta={self.min_delta}, "
                f"mode={self.mode!r}, best={self.best}, best_epoch={self.best_epoch}, "
                f"bad_epochs={self.num_bad_epochs})")
