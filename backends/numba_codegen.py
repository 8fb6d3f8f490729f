"""Numba kernels generated from scalar programs (backends/scalar_ops.py).

``Elementwise(program)`` is a callable over arrays and numbers.  It handles broadcasting and
strides in one place (``layout``): the operands are seen on a 2-D grid (m rows, n columns) of
the broadcast shape, each operand one of

    a   the whole grid (a C-contiguous array, flat),    indexed [i * n + j]
    r   one row broadcast down the rows  (n,)           indexed [j]
    c   one column broadcast across      (m,)           indexed [i]
    s   a number (or a one-element array)

(a copy makes a strided operand contiguous; a broadcast no grid expresses, such as (m, 1, k)
against (1, n, 1), is refused: ``layout`` returns None and the caller uses the reference).
Each combination of kinds gets its own generated loop nest, whose innermost loop runs over
contiguous columns from 0 and has no calls LLVM cannot widen (backends/numba_math.py), so it
vectorizes.  Every kernel comes as ``body(..., r0, r1, c0, c1)``, one rectangle of the grid on
the calling thread, and ``par(..., threads)``, which splits the grid over Numba's pool with
``prange`` (rows, or columns when there are fewer rows than threads or a column sum is kept).

A kernel can also keep the column sums of its first result (``colsum=True``: the bias gradient
of a fused linear layer), each column summed top to bottom as NumPy's ``sum(0)``; it then
splits by blocks of 16 columns so threads never share a cache line of sums.

Generated modules are written as source files under ``kernel_dir()`` (named by a hash of their
source and of numba_math.py) and imported from there, so ``cache=True`` works as for hand
written kernels: a second process loads the machine code from Numba's cache.  Float32 and
float64 are two specializations of one kernel; numbers in a program take the arrays' dtype.

The compile issue can fuse chains of ops by ``Scalar.compose`` before calling ``Elementwise``.
"""
import ast
import hashlib
import importlib.util
import os
import sys
import tempfile
import threading
import warnings
from math import prod

import numpy as np
from numba.core.errors import NumbaIRAssumptionWarning

from . import numba_math
from .scalar_ops import Scalar, _rename

_MATH_NAMES = ", ".join(sorted(numba_math.__all__))
with open(numba_math.__file__, "rb") as _f:
    _MATH_HASH = hashlib.sha256(_f.read()).hexdigest()[:12]
_lock = threading.Lock()
_modules: dict = {}  # source hash -> module


def kernel_dir():
    """Where generated kernel modules are written: $TENSORLITE_KERNEL_DIR, else
    ~/.cache/tensorlite/kernels, else a folder in the temporary directory."""
    for path in (os.environ.get("TENSORLITE_KERNEL_DIR"),
                 os.path.join(os.path.expanduser("~"), ".cache", "tensorlite", "kernels"),
                 os.path.join(tempfile.gettempdir(), f"tensorlite-kernels-{os.getuid()}")):
        if path:
            try:
                os.makedirs(path, exist_ok=True)
                if os.access(path, os.W_OK):
                    return path
            except OSError:
                pass
    raise OSError("no writable folder for generated kernels: set TENSORLITE_KERNEL_DIR")


class _ToNumba(ast.NodeTransformer):
    """Numbers become T(number) (the arrays' dtype); ``a if c else b`` becomes where(c, a, b),
    both arms evaluated: a select, which vectorizes."""

    def visit_Constant(self, node):
        if isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
            return ast.Call(ast.Name("T", ast.Load()), [node], [])
        return node

    def visit_IfExp(self, node):
        self.generic_visit(node)
        return ast.Call(ast.Name("where", ast.Load()), [node.test, node.body, node.orelse], [])


def _numba(node):
    return ast.unparse(_ToNumba().visit(ast.parse(ast.unparse(node))))


def source(prog, kinds, outs, colsum):
    """The Python source of the module with ``body`` and ``par`` for ``prog`` over operands
    of ``kinds`` (one letter per input), ``outs`` results, and ``colsum``."""
    ins = [f"in_{v}" for v in prog.inputs]
    res = [f"res{k}_" for k in range(outs)]
    args = ", ".join(ins + res + (["colsum"] if colsum else []))
    # the program's names as v_<name>: they never meet the loop's own (i, j, k, n, T, ...)
    prog = _rename(prog, **{v: f"v_{v}" for v in prog.inputs + tuple(prog.locals)})
    hoist, rows, cols = [], [], []
    for v, kind in zip(ins, kinds):
        name = "v_" + v[3:]
        if kind == "s":
            hoist.append(f"{name} = T({v})")
        elif kind == "c":
            rows.append(f"{name} = {v}[i]")
        elif kind == "r":
            hoist.append(f"row_{name} = {v}[c0:c1]")
            cols.append(f"{name} = row_{name}[j]")
        else:
            rows.append(f"row_{name} = {v}[k + c0:k + c1]")
            cols.append(f"{name} = row_{name}[j]")
    rows += [f"row_{r} = {r}[k + c0:k + c1]" for r in res]
    cols += [_numba(s) for s in prog.stmts]
    cols += [f"{r}v = {_numba(e)}" for r, e in zip(res, prog.outs)]
    cols += [f"row_{r}[j] = {r}v" for r in res]
    if colsum:
        hoist += ["sums = colsum[c0:c1]", "for j in range(c1 - c0):", "    sums[j] = T(0)"]
        cols.append("sums[j] += res0_v")

    def block(lines, depth):
        return "".join(f"\n{'    ' * depth}{line}" for line in lines)

    par_split = ("""
    blocks = n // 16  # a thread's columns: whole blocks of 16 sums
    parts = max(1, min(threads, blocks))
    for p in prange(parts):
        c1 = n if p == parts - 1 else blocks * (p + 1) // parts * 16
        body({a}, n, 0, m, blocks * p // parts * 16, c1)""" if colsum else """
    if m >= threads:
        for p in prange(threads):
            body({a}, n, m * p // threads, m * (p + 1) // threads, 0, n)
    else:
        for p in prange(threads):
            body({a}, n, 0, m, n * p // threads, n * (p + 1) // threads)""").format(a=args)
    return f'''"""Generated by tensorlite.backends.numba_codegen (numba_math {_MATH_HASH}).

{prog.source()}   [{''.join(kinds)} -> {outs}{' + colsum' if colsum else ''}]
"""
from numba import njit, prange

from tensorlite.backends.numba_math import {_MATH_NAMES}


@njit(cache=True, error_model="numpy")
def body({args}, n, r0, r1, c0, c1):
    T = res0_.dtype.type{block(hoist, 1)}
    for i in range(r0, r1):
        k = i * n{block(rows, 2)}
        for j in range(c1 - c0):{block(cols, 3)}


@njit(cache=True, parallel=True, error_model="numpy")
def par({args}, m, n, threads):{par_split}
'''


def _load(src):
    """The module of generated source ``src``, written to kernel_dir() and imported once."""
    key = hashlib.sha256(src.encode()).hexdigest()[:20]
    mod = _modules.get(key)
    if mod is not None:
        return mod
    with _lock:
        if key in _modules:
            return _modules[key]
        path = os.path.join(kernel_dir(), f"tl_{key}.py")
        if not os.path.exists(path):
            tmp = f"{path}.{os.getpid()}.tmp"
            with open(tmp, "w") as f:
                f.write(src)
            os.replace(tmp, path)  # atomic: another process may be writing the same file
        name = f"tensorlite_generated_{key}"
        spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
        _modules[key] = mod
        return mod


def _scalar(a):
    return a.reshape(-1)[0] if isinstance(a, np.ndarray) else a


def layout(operands, rows=None):
    """(shape, m, n, kinds, flat operands) of the operands on one 2-D grid, or None when
    their broadcast is not a grid of rows and columns (see the module docstring).  Without a
    row or column operand the grid is one row, or ``rows`` rows when given."""
    arrays = [a for a in operands if isinstance(a, np.ndarray)]
    shape = np.broadcast_shapes(*(a.shape for a in arrays))
    core = [s for s in shape if s != 1]
    split, kinds, flats = None, [], []
    for a in operands:
        if not isinstance(a, np.ndarray) or a.size == 1:
            kinds.append("s")
            flats.append(_scalar(a))
            continue
        padded = (1,) * (len(shape) - a.ndim) + a.shape
        p = [s for s, full in zip(padded, shape) if full != 1]
        if p == core:
            kinds.append("a")
        else:
            lead = next(i for i, s in enumerate(p) if s != 1)
            trail = len(p) - next(i for i, s in enumerate(reversed(p)) if s != 1)
            if p[lead:] == core[lead:]:
                kind, at = "r", lead
            elif p[:trail] == core[:trail]:
                kind, at = "c", trail
            else:
                return None
            if split not in (None, at):
                return None
            split = at
            kinds.append(kind)
        flats.append(np.ascontiguousarray(a).reshape(-1))
    if split is None:
        m = rows if rows else 1
        return shape, m, prod(core) // m if m else 0, "".join(kinds), flats
    m, n = prod(core[:split]), prod(core[split:])
    return shape, m, n, "".join(kinds), flats


class Elementwise:
    """A scalar program as a kernel over arrays: ``k(*operands, dtype=, out=, threads=)``
    returns its results (arrays of the broadcast shape, in ``dtype``), and with ``colsum``
    also the column sums of the first one (the grid's columns: the last dims after the
    broadcast split)."""

    def __init__(self, prog, colsum=False):
        self.prog = prog if isinstance(prog, Scalar) else Scalar(prog)
        self.colsum = colsum
        self._kernels = {}
        self._plans = {}  # (rows, operand shapes) -> plan: see __call__

    def __repr__(self):
        return f"Elementwise({self.prog.source()!r}{', colsum=True' if self.colsum else ''})"

    def kernel(self, kinds):
        """(body, par) for operands of ``kinds``, generated and imported on first use."""
        kernels = self._kernels.get(kinds)
        if kernels is None:
            mod = _load(source(self.prog, kinds, len(self.prog.outs), self.colsum))
            kernels = self._kernels[kinds] = (mod.body, mod.par)
        return kernels

    def __call__(self, *operands, dtype=None, out=None, threads=1, new=None, rows=None):
        """Run over ``operands`` (one per input of the program, in ``prog.inputs`` order);
        ``out``: arrays for the results (C-contiguous, the broadcast shape), else made by
        ``new(shape, dtype)``; ``rows``: see ``layout``.  None if the layout is refused.

        The plan (grid, kinds, compiled kernels) is cached by the operands' shapes (None for a
        number) and ``rows``: a repeated call costs a dict look-up, one ``ravel`` per array
        (a view when C-contiguous, else the copy ``layout`` makes) and the dispatch."""
        key = (rows, *[a.shape if isinstance(a, np.ndarray) else None for a in operands])
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plan(operands, rows, key)
            if plan is None:
                return None
            with warnings.catch_warnings():  # the first call compiles: a long chain of
                warnings.simplefilter("ignore", NumbaIRAssumptionWarning)  # inlined math
                return self(*operands, dtype=dtype, out=out, threads=threads, new=new,
                            rows=rows)  # warns pedantically (numba's ssa check)
        shape, m, n, scalar, first, body, par = plan
        if scalar is None:  # every operand an array of the grid: no scalar to pick out
            args = [a.ravel() for a in operands]
        else:
            args = [_scalar(a) if s else a.ravel() for a, s in zip(operands, scalar)]
        if dtype is None:
            dtype = operands[first].dtype
        if out is None:
            new = new or np.empty
            out = [new(shape, dtype) for _ in self.prog.outs]
        args += [o.reshape(-1) for o in out]
        if self.colsum:
            args.append(np.empty(n, dtype))
        if m * n:
            if threads > 1:
                par(*args, m, n, threads)
            else:
                body(*args, n, 0, m, 0, n)
        elif self.colsum:
            args[-1][:] = 0
        return (*out, args[-1]) if self.colsum else tuple(out)

    def _plan(self, operands, rows, key):
        """(shape, m, n, which operands are scalars (None: none), the first array's index,
        body, par) for operands of these shapes, kept under ``key``; None if ``layout``
        refuses them."""
        plan = layout(operands, rows)
        if plan is None:
            return None
        shape, m, n, kinds, _ = plan
        scalar = None if "s" not in kinds else tuple(k == "s" for k in kinds)
        first = next(i for i, a in enumerate(operands) if isinstance(a, np.ndarray))
        plan = (shape, m, n, scalar, first, *self.kernel(kinds))
        if len(self._plans) >= 256:  # shapes seen once (a growing batch): start over
            self._plans.clear()
        self._plans[key] = plan
        return plan
