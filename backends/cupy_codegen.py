"""CuPy kernels generated from the scalar programs of backends/scalar_ops.py: the same
descriptions the numba backend's loops are generated from (numba_codegen.py), printed as CUDA C.

``elementwise(prog, name)`` is a ``cupy.ElementwiseKernel`` over the program's inputs (arrays or
numbers, all of one float type ``T``; CuPy broadcasts and handles strides) with one output per
result, ``out0``, ``out1``...  ``device_function(prog, name)`` is the program as a
``__device__`` function of float32 scalars, for hand-tuned RawKernels (the float4 bias +
activation) that only want the arithmetic.

The translation keeps the program's operations and their order: numbers become ``(T)number``,
``a if c else b`` a ``?:``, ``abs`` ``fabs``, ``x ** p`` ``pow``, and the helpers the numba side
takes from numba_math.py (``maximum``/``minimum`` with NumPy's NaN rule, ``sign`` with NaN giving
0, ``where``) are defined once in a prelude.  Kernels are built with ``--fmad=false``: NVRTC
would otherwise contract ``a * b + c`` into one rounding, and the gradients must equal the
reference's arithmetic.  CUDA's exp/log/tanh/erf may differ from the host's libm by an ulp.
"""
import ast
import functools

from .scalar_ops import kernel_program

EXACT = ("--fmad=false",)

PRELUDE = """
template <typename T> __device__ __forceinline__ T tl_maximum(T a, T b) {
    return (a >= b || a != a) ? a : b; }
template <typename T> __device__ __forceinline__ T tl_minimum(T a, T b) {
    return (a <= b || a != a) ? a : b; }
template <typename T> __device__ __forceinline__ T tl_sign(T x) {
    return (T)(x > (T)0) - (T)(x < (T)0); }
"""
_CALLS = {"exp": "exp", "log": "log", "log1p": "log1p", "tanh": "tanh", "erf": "erf",
          "sqrt": "sqrt", "abs": "fabs", "sign": "tl_sign", "maximum": "tl_maximum",
          "minimum": "tl_minimum"}
_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
_CMPOPS = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==",
           ast.NotEq: "!="}


def expression(node, ctype="T"):
    """The C expression of a scalar program's expression node (names as ``v_<name>``)."""
    def c(n):
        if isinstance(n, ast.Constant) and isinstance(n.value, (int, float)) \
                and not isinstance(n.value, bool):
            return f"(({ctype}){float(n.value)!r})"
        if isinstance(n, ast.Name):
            return f"v_{n.id}"
        if isinstance(n, ast.UnaryOp) and isinstance(n.op, ast.USub):
            return f"(-{c(n.operand)})"
        if isinstance(n, ast.UnaryOp) and isinstance(n.op, ast.Not):
            return f"(!{c(n.operand)})"
        if isinstance(n, ast.BinOp) and type(n.op) in _BINOPS:
            return f"({c(n.left)} {_BINOPS[type(n.op)]} {c(n.right)})"
        if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Pow):
            return f"pow({c(n.left)}, {c(n.right)})"
        if isinstance(n, ast.BoolOp):
            op = " && " if isinstance(n.op, ast.And) else " || "
            return "(" + op.join(c(v) for v in n.values) + ")"
        if isinstance(n, ast.Compare) and len(n.ops) == 1 and type(n.ops[0]) in _CMPOPS:
            return f"({c(n.left)} {_CMPOPS[type(n.ops[0])]} {c(n.comparators[0])})"
        if isinstance(n, ast.IfExp):
            return f"({c(n.test)} ? {c(n.body)} : {c(n.orelse)})"
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name):
            args = [c(a) for a in n.args]
            if n.func.id == "where":
                return f"({args[0]} ? {args[1]} : {args[2]})"
            if n.func.id in _CALLS:
                return f"{_CALLS[n.func.id]}({', '.join(args)})"
        raise ValueError(f"no CUDA form for {ast.unparse(n)!r}")
    return c(node)


def body(prog, ctype="T"):
    """The statements computing ``prog``'s locals and assigning its results to ``out0``..."""
    lines = [f"{ctype} v_{s.targets[0].id} = {expression(s.value, ctype)};" for s in prog.stmts]
    lines += [f"out{k} = {expression(o, ctype)};" for k, o in enumerate(prog.outs)]
    return " ".join(lines)


@functools.cache
def kernel(kind, name):
    """The ElementwiseKernel of ``scalar_ops.kernel_program(kind, name)``, built once per
    process."""
    return elementwise(kernel_program(kind, name), f"{kind}_{name}")


def elementwise(prog, name):
    """``prog`` (a Scalar) as a cupy.ElementwiseKernel named ``tl_<name>``: inputs ``T v_<x>``
    in the program's order (arrays or numbers), outputs ``T out0``..."""
    import cupy
    ins = ", ".join(f"T v_{v}" for v in prog.inputs)
    outs = ", ".join(f"T out{k}" for k in range(len(prog.outs)))
    return cupy.ElementwiseKernel(ins, outs, body(prog), f"tl_{name}", preamble=PRELUDE,
                                  options=EXACT)


def device_function(prog, name):
    """``prog`` (one input, one result) as ``__device__ float name(float v_<input>)``."""
    (arg,) = prog.inputs
    (out,) = prog.outs
    stmts = " ".join(f"float v_{s.targets[0].id} = {expression(s.value, 'float')};"
                     for s in prog.stmts)
    return (f"__device__ __forceinline__ float {name}(float v_{arg}) {{ {stmts} "
            f"return {expression(out, 'float')}; }}")
