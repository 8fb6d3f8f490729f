"""The Optimizer base class: parameter groups, per-parameter state and checkpoints, as torch.optim.

A subclass declares its hyperparameters as ``defaults`` and implements ``_update`` (one
parameter, called by the shared ``step``) or its own ``step``; the update of one parameter is
one backend primitive call (``Backend.sgd_step``, ``adam_step``, ...) that changes the
parameter and its state arrays in place.  The built-in optimizers also implement
``_update_group``: every parameter of a group in one backend call (``Backend.sgd_steps``,
``adam_steps``, ...: one fused pass on the numba backend, as torch's foreach/fused steps).
"""
from __future__ import annotations

from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable, Iterator
from copy import deepcopy
from functools import wraps
from itertools import chain
from typing import Any, Union

import numpy as np

from .. import dtypes
from .._capture_hooks import host
from ..autograd.grad_mode import enable_grad, no_grad
from ..creation import tensor, zeros, zeros_like
from ..ops.common import backend_of
from ..tensor import Tensor, describe

__all__ = ["Optimizer", "required"]

# What an optimizer takes (torch's ParamsT): tensors, (name, tensor) pairs, or parameter groups
ParamsT = Union[Iterable[Tensor], Iterable[tuple[str, Tensor]], Iterable[dict[str, Any]]]


class _RequiredParameter:
    """Marks a hyperparameter every parameter group must set (no default)."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()

_NAMES = {"lr": "learning rate", "eps": "epsilon value"}  # torch's words for these two


def check_nonnegative(**values: float) -> None:
    """torch.optim's argument checks: each hyperparameter given must be >= 0 (NaN is not)."""
    for name, value in values.items():
        if not 0.0 <= value:
            raise ValueError(f"Invalid {_NAMES.get(name, name + ' value')}: {value}")


def check_betas(betas: tuple[float, float]) -> None:
    """torch.optim's check of Adam-style ``betas``: each in [0, 1)."""
    for i, beta in enumerate(betas):
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"Invalid beta parameter at index {i}: {beta}")


def adam_defaults(lr: float, betas: tuple[float, float], eps: float,
                  weight_decay: float | None = None, **extra: Any) -> dict[str, Any]:
    """The checks and leading ``defaults`` of the Adam family, in torch's order: lr, eps, betas,
    weight_decay (left out when None), then ``extra`` as given."""
    check_nonnegative(lr=lr, eps=eps)
    check_betas(betas)
    defaults: dict[str, Any] = dict(lr=lr, betas=tuple(betas), eps=eps)
    if weight_decay is not None:
        check_nonnegative(weight_decay=weight_decay)
        defaults["weight_decay"] = weight_decay
    return {**defaults, **extra}


class Optimizer:
    """Base class of all optimizers.

    ``params``: an iterable of tensors, or of dicts (parameter groups) each with a ``"params"``
    entry and optional per-group hyperparameters overriding ``defaults``.
    """

    # state entries kept as 0-d float32 host tensors whatever the parameter (torch's step)
    _scalar_state: frozenset[str] = frozenset({"step"})

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """A subclass's own ``step`` and ``zero_grad`` are host work to tensorlite.compile,
        as the base's: a captured training step calls them again on each replay."""
        super().__init_subclass__(**kwargs)
        for name in ("step", "zero_grad"):
            if name in cls.__dict__:
                setattr(cls, name, host(cls.__dict__[name]))
    # sparse COO gradients: refused (None, as most of torch's optimizers), "dense" (taken as
    # their dense equivalent: SGD, Adagrad, whose sparse updates equal the dense ones) or
    # "keep" (the optimizer reads them itself: SparseAdam)
    _sparse_grads: str | None = None

    def __init__(self, params: ParamsT, defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            f"Tensors or dicts, but got a Tensor ({describe(params)}); "
                            "wrap it in a list")
        self.state: defaultdict[Any, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        groups: list[Any] = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        self._patch_step_function()
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def __repr__(self) -> str:
        lines = [type(self).__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {group[k]}" for k in sorted(group) if k != "params"]
        return "\n".join(lines) + "\n)"

    def __getstate__(self) -> dict[str, Any]:
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        for group in self.param_groups:  # a checkpoint from an older version may lack a key
            for name, default in self.defaults.items():
                if default is not required:
                    group.setdefault(name, default)

    # -- parameter groups ------------------------------------------------------------------------
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters (a dict with ``"params"``); unset hyperparameters take
        the optimizer's defaults."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, "
                            "but the ordering of tensors in sets will change between runs; "
                            "use a list instead")
        params = list(params)
        names = [p[0] for p in params if isinstance(p, tuple)]
        params = [p[1] if isinstance(p, tuple) else p for p in params]
        if names:
            if len(names) != len(params):
                raise ValueError("all optimizer params should be with/without names. Some param "
                                 "names are missing")
            param_group["param_names"] = names
        param_group["params"] = params
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError("optimizer can only optimize tensorlite Tensors, but one of the "
                                f"params is {type(p).__module__}.{type(p).__name__}")
            if not p.is_leaf:
                raise ValueError(f"can't optimize a non-leaf Tensor ({describe(p)}); optimize "
                                 "the leaf it was computed from, or .detach().requires_grad_()")
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError("parameter group didn't specify a value of required "
                                 f"optimization parameter {name}")
            param_group.setdefault(name, default)
        if len({id(p) for p in params}) != len(params):
            import warnings
            warnings.warn("optimizer contains a parameter group with duplicate parameters; "
                          "each is updated once per occurrence", stacklevel=3)
        seen = {id(p) for group in self.param_groups for p in group["params"]}
        for group in self.param_groups:
            if ("param_names" in param_group) != ("param_names" in group):
                which = "with" if "param_names" in param_group else "without"
                raise ValueError("all optimizer param groups should be with/without names. "
                                 f"cannot add param group {which} names to the optimizer")
        if any(id(p) in seen for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    @host
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset every parameter's gradient: to None (default), or to zeros in place."""
        for group in self.param_groups:
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    g.detach_()
                    with no_grad():
                        g.zero_()

    @host
    @no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update the parameters once; ``closure`` re-evaluates the model and returns the loss.

        The built-in optimizers share this loop and implement ``_update``; a subclass that
        implements neither raises NotImplementedError, as torch's base class."""
        if type(self)._update is Optimizer._update:
            raise NotImplementedError
        loss = self._begin_step(closure)
        fused = _fused(type(self))
        for group in self.param_groups:
            items = list(self._with_grad(group))
            if fused and len({id(p) for p, _, _ in items}) == len(items):
                for B, ps, gs in _by_backend(items):
                    self._update_group(ps, gs, B, group)
            else:  # a parameter listed twice is updated once per occurrence, in turn
                for p, g, B in items:
                    self._update(p, g, B, group)
        return loss

    def _update_group(self, params: list[Tensor], grads: list[Tensor], B: Any,
                      group: dict[str, Any]) -> None:
        """The update of several parameters of ``group`` (distinct, with gradients ``grads``,
        all on backend ``B``) in one backend call (``B.adam_steps``, ...): the same result as
        ``_update`` on each in turn.  Optional: without it ``step`` calls ``_update``."""
        raise NotImplementedError

    def _update(self, p: Tensor, g: Tensor, B: Any, group: dict[str, Any]) -> None:
        """One parameter's update: ``p`` of ``group``, its gradient ``g`` (dense unless the
        optimizer keeps sparse ones), ``B`` their backend; state in ``self.state[p]``."""
        raise NotImplementedError

    def _begin_step(self, closure: Callable[[], Any] | None) -> Any:
        """What every ``step`` does first: run ``closure`` (under grad mode) for the loss, then
        check every parameter's gradient and state, so that a bad one raises before any
        parameter or state is touched (a failed step changes nothing)."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for gi, group in enumerate(self.param_groups):
            for pi, p in enumerate(group["params"]):
                g = p.grad
                if g is None:
                    continue
                if not isinstance(g, Tensor) or g.shape != p.shape or g.dtype != p.dtype or \
                        g.device != p.device:
                    got = describe(g) if isinstance(g, Tensor) else type(g).__name__
                    raise RuntimeError(
                        f"{type(self).__name__}.step: the gradient ({got}) of parameter {pi} in "
                        f"param group {gi} does not match the parameter ({describe(p)}); "
                        f"shapes {list(getattr(g, 'shape', ()))} and {list(p.shape)}. Assign a "
                        ".grad of the parameter's shape, dtype and device; no parameter was "
                        "updated")
                if g.is_sparse and self._sparse_grads is None:
                    name = type(self).__name__
                    hint = ""
                    if isinstance(self, _adam_family()):  # torch's words (AdamW's too)
                        name, hint = "Adam", ", please consider SparseAdam instead"
                    raise RuntimeError(f"{name} does not support sparse gradients{hint} "
                                       f"(parameter {pi} in param group {gi}); no parameter "
                                       "was updated")
                self._check_param(p, group, gi, pi)
        return loss

    def _check_param(self, p: Tensor, group: dict[str, Any], gi: int, pi: int) -> None:
        """A subclass's check of parameter ``pi`` of group ``gi`` before a step (its state)."""

    # -- the per-parameter loop every step shares ----------------------------------------------
    def _with_grad(self, group: dict[str, Any]) -> Iterator[tuple[Tensor, Tensor, Any]]:
        """(param, grad, backend) for every parameter of ``group`` that has a gradient (checked
        by ``_begin_step``)."""
        for p in group["params"]:
            g = p.grad
            if g is None:
                continue
            if g.is_sparse and self._sparse_grads == "dense":
                g = g.to_dense()
            B = backend_of(p, "optimizer step")
            p._data = B.ensure_array(p._data)  # a NumPy scalar gets storage
            yield p, g, B

    def _lazy_state(self, p: Tensor, *buffers: str) -> dict[str, Any]:
        """``p``'s state; on its first step created as ``step`` and a zero tensor like ``p``
        for each name in ``buffers`` (torch's lazy state initialization)."""
        state = self.state[p]
        if not state:
            state["step"] = self._new_step()
            for name in buffers:
                state[name] = zeros_like(p)
        return state

    @staticmethod
    def _new_step() -> Tensor:
        """The step counter: a 0-d float32 tensor on the host, as torch keeps it."""
        return zeros((), dtype=dtypes.float32, device="cpu")

    @staticmethod
    def _bump(*tensors: Tensor | None) -> None:
        for t in tensors:
            if t is not None:
                t._version[0] += 1

    @staticmethod
    def _increment(step_t: Tensor) -> float:
        """step += 1 in place; returns the new count as a Python float."""
        B = backend_of(step_t, "optimizer step")
        B.iadd(step_t._data, 1)
        step_t._version[0] += 1
        return float(step_t._data)

    # -- hooks (torch.optim.Optimizer's) -----------------------------------------------------------
    def _hooks(self, name: str) -> OrderedDict[int, Callable[..., Any]]:
        table: OrderedDict[int, Callable[..., Any]] | None = self.__dict__.get(name)
        if table is None:  # an OrderedDict, as torch's: the handle refers to it weakly
            table = self.__dict__[name] = OrderedDict()
        return table

    def _register(self, name: str, hook: Callable[..., Any], prepend: bool = False) -> Any:
        from ..nn.hooks import RemovableHandle
        table = self._hooks(name)
        handle = RemovableHandle(table)
        table[handle.id] = hook
        if prepend:
            table.move_to_end(handle.id, last=False)
        return handle

    def register_step_pre_hook(self, hook: Callable[..., Any]) -> Any:
        """``hook(optimizer, args, kwargs)`` runs before each ``step``; it may return
        ``(new_args, new_kwargs)``.  Returns a handle whose ``remove()`` unregisters it."""
        return self._register("_optimizer_step_pre_hooks", hook)

    def register_step_post_hook(self, hook: Callable[..., Any]) -> Any:
        """``hook(optimizer, args, kwargs)`` runs after each ``step``."""
        return self._register("_optimizer_step_post_hooks", hook)

    def register_state_dict_pre_hook(self, hook: Callable[..., Any],
                                     prepend: bool = False) -> Any:
        """``hook(optimizer)`` runs before ``state_dict()`` builds the dict."""
        return self._register("_state_dict_pre_hooks", hook, prepend)

    def register_state_dict_post_hook(self, hook: Callable[..., Any],
                                      prepend: bool = False) -> Any:
        """``hook(optimizer, state_dict)`` runs on the built dict; it may return a new one."""
        return self._register("_state_dict_post_hooks", hook, prepend)

    def register_load_state_dict_pre_hook(self, hook: Callable[..., Any],
                                          prepend: bool = False) -> Any:
        """``hook(optimizer, state_dict)`` runs before loading; it may return a new dict."""
        return self._register("_load_state_dict_pre_hooks", hook, prepend)

    def register_load_state_dict_post_hook(self, hook: Callable[..., Any],
                                           prepend: bool = False) -> Any:
        """``hook(optimizer)`` runs after ``load_state_dict`` has loaded."""
        return self._register("_load_state_dict_post_hooks", hook, prepend)

    def _patch_step_function(self) -> None:
        """Wrap the class's ``step`` once (as torch) so the step hooks run around it."""
        cls = type(self)
        if getattr(cls.step, "hooked", False):
            return
        step = cls.step

        @wraps(step)
        def hooked_step(*args: Any, **kwargs: Any) -> Any:
            opt = args[0]  # the hooks see args with the optimizer first, as torch's
            for pre_hook in list(opt._hooks("_optimizer_step_pre_hooks").values()):
                result = pre_hook(opt, args, kwargs)
                if result is not None:
                    if not (isinstance(result, tuple) and len(result) == 2):
                        raise RuntimeError(f"{pre_hook} must return None or a tuple of "
                                           f"(new_args, new_kwargs), but got {result}.")
                    args, kwargs = result
            out = step(*args, **kwargs)
            for post_hook in list(opt._hooks("_optimizer_step_post_hooks").values()):
                post_hook(opt, args, kwargs)
            return out

        hooked_step.hooked = True  # type: ignore[attr-defined]
        cls.step = host(hooked_step)  # type: ignore[method-assign]  # (hooks replayed too)

    # -- checkpoints -------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """``{'state': {index: {name: value}}, 'param_groups': [{..., 'params': [index]}]}``,
        parameters numbered in group order, as torch.  The state tensors are the optimizer's
        own (not copies), as torch: deepcopy the result to keep a snapshot while training on."""
        for pre_hook in list(self._hooks("_state_dict_pre_hooks").values()):
            pre_hook(self)
        index: dict[int, int] = {}

        def pack(group: dict[str, Any]) -> dict[str, Any]:
            packed = {k: v for k, v in group.items() if k != "params"}
            for p in group["params"]:
                index.setdefault(id(p), len(index))
            packed["params"] = [index[id(p)] for p in group["params"]]
            return packed

        groups = [pack(g) for g in self.param_groups]
        state = {(index[id(k)] if isinstance(k, Tensor) else k): dict(v)
                 for k, v in self.state.items()}
        result = {"state": state, "param_groups": groups}
        for post_hook in list(self._hooks("_state_dict_post_hooks").values()):
            changed = post_hook(self, result)
            if changed is not None:
                result = changed
        return result

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a ``state_dict()`` saved from an optimizer over parameters of the same shapes.
        State tensors are copied (never aliased) onto each parameter's device and, when
        floating point, its dtype; the hyperparameters of the saved groups replace ours."""
        for pre_hook in list(self._hooks("_load_state_dict_pre_hooks").values()):
            changed = pre_hook(self, state_dict)
            if changed is not None:
                state_dict = changed
        self._load_state_dict(state_dict)
        for post_hook in list(self._hooks("_load_state_dict_post_hooks").values()):
            post_hook(self)

    def _load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if not isinstance(state_dict, dict) or not {"state", "param_groups"} <= set(state_dict):
            raise ValueError("load_state_dict: expected a dict with 'state' and 'param_groups' "
                             "(as returned by Optimizer.state_dict())")
        groups = self.param_groups
        saved_groups = deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups "
                             f"({len(saved_groups)}) than the optimizer ({len(groups)})")
        for i, (g, s) in enumerate(zip(groups, saved_groups)):
            if len(g["params"]) != len(s["params"]):
                raise ValueError("loaded state dict contains a parameter group that doesn't match "
                                 f"the size of optimizer's group: group {i} has "
                                 f"{len(s['params'])} parameters saved, {len(g['params'])} here")
        id_map = dict(zip(chain.from_iterable(s["params"] for s in saved_groups),
                          chain.from_iterable(g["params"] for g in groups)))
        state: defaultdict[Any, dict[str, Any]] = defaultdict(dict)
        for k, v in state_dict["state"].items():
            if k in id_map:
                param = id_map[k]
                state[param] = {name: self._load_state_value(param, name, value, k)
                                for name, value in v.items()}
            else:
                state[k] = v
        for g, s in zip(groups, saved_groups):
            s["params"] = g["params"]
            if "param_names" in g and "param_names" not in s:
                s["param_names"] = g["param_names"]
        self.__setstate__({"state": state, "param_groups": saved_groups})

    def _load_state_value(self, param: Tensor, key: str, value: Any, index: Any) -> Any:
        """The copy of one saved state value that ``load_state_dict`` keeps for ``param``."""
        return _cast(param, key, value, index, self._scalar_state)


_FUSED: dict[type, bool] = {}


def _fused(cls: type) -> bool:
    """Whether ``cls``'s ``_update_group`` replaces its ``_update``: defined by the class that
    defines ``_update`` or a subclass of it (a subclass overriding ``_update`` only keeps it)."""
    known = _FUSED.get(cls)
    if known is None:
        def owner(name: str) -> type:
            return next(c for c in cls.__mro__ if name in c.__dict__)
        group, one = owner("_update_group"), owner("_update")
        known = _FUSED[cls] = group is not Optimizer and issubclass(group, one)
    return known


def _by_backend(items: list[tuple[Tensor, Tensor, Any]]
                ) -> list[tuple[Any, list[Tensor], list[Tensor]]]:
    """(backend, params, grads) for each backend of ``items`` (one, usually), in order."""
    B = items[0][2] if items else None
    if all(b is B for _, _, b in items):
        return [(B, [p for p, _, _ in items], [g for _, g, _ in items])] if items else []
    out: dict[int, tuple[Any, list[Tensor], list[Tensor]]] = {}
    for p, g, b in items:
        entry = out.setdefault(id(b), (b, [], []))
        entry[1].append(p)
        entry[2].append(g)
    return list(out.values())


def _adam_family() -> type:
    from .adam import Adam
    return Adam


def _cast(param: Tensor, key: str, value: Any, index: Any,
          scalars: frozenset[str] = frozenset({"step"})) -> Any:
    """A copy of one saved state value for ``param``: tensors on its device (floating ones in
    its dtype); 'step' (and the optimizer's other ``scalars``) stay float32 host tensors;
    NumPy arrays / torch tensors are accepted."""
    scalar = key in scalars
    if not isinstance(value, Tensor):
        if not scalar and not hasattr(value, "__array__"):
            return deepcopy(value)
        value = tensor(np.asarray(value), dtype=dtypes.float32 if scalar else None)
    with no_grad():
        value = value.detach()
        if scalar:
            return value.to(device="cpu", copy=True)
        if value.shape != param.shape:
            raise ValueError(f"loaded state dict: state[{key!r}] of parameter {index} is "
                             f"{describe(value)} but the parameter is {describe(param)}; the "
                             "checkpoint was saved for different parameters")
        dtype = param.dtype if param.is_floating_point() else value.dtype
        return value.to(device=param.device, dtype=dtype, copy=True)
