"""Check analytic gradients against float64 central differences."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Union

import numpy as np

from ..tensor import Tensor, wrap
from .engine import grad


# One tensor or a sequence of them (inputs, outputs and grad_outputs of gradcheck)
TensorOrTensors = Union[Tensor, Sequence[Any]]


class GradcheckError(RuntimeError):
    pass


def _as_tuple(x: Any) -> tuple[Any, ...]:
    return x if isinstance(x, tuple) else (x,) if isinstance(x, Tensor) else tuple(x)


def _host(t: Tensor) -> np.ndarray:
    return np.array(t.backend.to_host(t._data), dtype=np.float64)


def _numeric_jacobian(fn: Callable[..., Any], inputs: tuple[Any, ...], x: Tensor,
                      out_index: int, eps: float) -> np.ndarray:
    """d(output out_index)/dx by central differences, one input element at a time."""
    data = x._data
    columns = []
    for idx in np.ndindex(*x.shape):
        orig = data[idx].item()
        results = []
        for delta in (eps, -eps):
            data[idx] = orig + delta
            # grad mode stays on: fn may itself differentiate (gradgradcheck's vjp)
            results.append(_host(_as_tuple(fn(*inputs))[out_index]).ravel())
        data[idx] = orig
        columns.append((results[0] - results[1]) / (2 * eps))
    n_out = _as_tuple(fn(*inputs))[out_index].numel()
    return np.stack(columns, axis=1) if columns else np.zeros((n_out, 0))


def _analytic_jacobian(output: Tensor, x: Tensor) -> np.ndarray:
    rows = []
    flat_shape = (output.numel(),)
    for j in range(output.numel()):
        onehot = np.zeros(flat_shape)
        onehot[j] = 1.0
        seed = wrap(output.backend.asarray(onehot.reshape(output.shape), dtype=output.dtype),
                    output.device)
        (g,) = grad(output, x, seed, retain_graph=True, allow_unused=True)
        rows.append(np.zeros(x.numel()) if g is None else _host(g).ravel())
    return np.stack(rows) if rows else np.zeros((0, x.numel()))


def gradcheck(fn: Callable[..., Any], inputs: TensorOrTensors, eps: float = 1e-6,
              atol: float = 1e-5, rtol: float = 1e-3, raise_exception: bool = True) -> bool:
    """True if ``fn``'s gradients with respect to every float64 input that requires grad match
    central differences; otherwise raise GradcheckError (or return False)."""
    inputs = _as_tuple(inputs)
    targets = [x for x in inputs if isinstance(x, Tensor) and x.requires_grad]
    for x in targets:
        if x.dtype != np.float64:
            raise ValueError(f"gradcheck: inputs that require grad must be float64 for finite "
                             f"differences to be meaningful, got {x.dtype}")
    outputs = _as_tuple(fn(*inputs))
    for k, out in enumerate(outputs):
        if not out.requires_grad:
            continue
        for i, x in enumerate(targets):
            analytic = _analytic_jacobian(out, x)
            numeric = _numeric_jacobian(fn, inputs, x, k, eps)
            if not np.allclose(analytic, numeric, rtol=rtol, atol=atol):
                if not raise_exception:
                    return False
                worst = np.unravel_index(np.argmax(np.abs(analytic - numeric)), analytic.shape)
                raise GradcheckError(
                    f"gradcheck: Jacobian mismatch for output {k} with respect to input {i} "
                    f"(shape {list(x.shape)}): largest difference at (output element, input "
                    f"element) {tuple(map(int, worst))}: analytic {analytic[worst]:.8g}, "
                    f"numeric {numeric[worst]:.8g}\nanalytic:\n{analytic}\nnumeric:\n{numeric}")
    return True


def gradgradcheck(fn: Callable[..., Any], inputs: TensorOrTensors,
                  grad_outputs: TensorOrTensors | None = None, eps: float = 1e-6,
                  atol: float = 1e-5, rtol: float = 1e-3, raise_exception: bool = True) -> bool:
    """gradcheck of the gradient itself: the vector-Jacobian product of ``fn`` with random
    (or given) ``grad_outputs``, differentiated with respect to the inputs and those vectors."""
    inputs = _as_tuple(inputs)
    outputs = _as_tuple(fn(*inputs))
    if grad_outputs is None:
        rng = np.random.default_rng(0)
        grad_outputs = []
        for out in outputs:
            grad_outputs.append(wrap(out.backend.asarray(rng.standard_normal(out.shape),
                                                         dtype=out.dtype),
                                     out.device, requires_grad=True))
    grad_outputs = list(_as_tuple(grad_outputs))
    n = len(inputs)

    def vjp(*args: Any) -> tuple[Tensor, ...]:
        ins, vs = args[:n], args[n:]
        outs = _as_tuple(fn(*ins))
        diff_ins = [x for x in ins if isinstance(x, Tensor) and x.requires_grad]
        gs = grad(outs, diff_ins, vs, create_graph=True, allow_unused=True)
        return tuple(g for g in gs if g is not None)
    return gradcheck(vjp, inputs + tuple(grad_outputs), eps, atol, rtol, raise_exception)
