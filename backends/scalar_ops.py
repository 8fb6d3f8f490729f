"""Elementwise ops described once, as scalar code: the op and its derivative.

A ``Scalar`` is a small straight-line program over named scalar inputs: assignments, then one
or more result expressions (``"e = exp(-abs(x)); 1 / (1 + e) if x >= 0 else e / (1 + e)"``).
It is kept as Python's AST, the expression tree the code generators walk:
backends/numba_codegen.py turns one into a Numba loop (and a CuPy ElementwiseKernel can be
printed from the same tree: ``a if c else b`` becomes ``where(c, a, b)``, a number ``T(c)``).
``compose`` substitutes one program for an input of another, so a chain of ops becomes one
program, one loop, one pass over memory.

The names a program may call are those of backends/numba_math.py (``exp``, ``log``, ``log1p``,
``tanh``, ``erf``, ``sqrt``, ``abs``, ``sign``, ``maximum``, ``minimum``); numbers take the
dtype of the arrays, as a Python float meeting a float32 array does in NumPy.

``OPS`` is the table: each ``ScalarOp`` has its forward program and its gradient program, the
gradient over the inputs, the upstream gradient ``g`` and the output ``y`` (whichever is
cheaper), computed with the reference's order of operations so the numba and numpy backends
agree within float rounding.  Scalar parameters (``beta``, ``slope``, ``p``) are inputs that
are passed as numbers.
"""
import ast
from dataclasses import dataclass

FUNCTIONS = frozenset(("exp", "log", "log1p", "tanh", "erf", "sqrt", "abs", "sign", "maximum",
                       "minimum", "where"))


class Scalar:
    """A straight-line scalar program: ``stmts`` (assignments) then ``outs`` (expressions)."""

    def __init__(self, source, outs=None, inputs=None):
        if isinstance(source, str):
            body = ast.parse("\n".join(p.strip() for p in source.split(";"))).body
            *stmts, last = body
            if not isinstance(last, ast.Expr) or not all(isinstance(s, ast.Assign)
                                                          for s in stmts):
                raise ValueError(f"a scalar program is assignments then an expression: "
                                 f"{source!r}")
            outs = (last.value,) if outs is None else outs
            source = stmts
        self.stmts, self.outs = list(source), tuple(outs)
        self.locals = [t.id for s in self.stmts for t in s.targets]
        seen = []
        for node in self.stmts + list(self.outs):
            for n in ast.walk(node.value if isinstance(node, ast.Assign) else node):
                if (isinstance(n, ast.Name) and n.id not in FUNCTIONS
                        and n.id not in self.locals and n.id not in seen):
                    seen.append(n.id)
        if inputs is not None and not set(seen) <= set(inputs):
            raise ValueError(f"{self.source()!r} reads {seen}, not only {inputs}")
        self.inputs = tuple(seen if inputs is None else inputs)  # default: order of first use

    def __repr__(self):
        return f"Scalar({self.source()!r})"

    def source(self):
        return "; ".join([ast.unparse(s) for s in self.stmts]
                         + [ast.unparse(o) for o in self.outs])

    def with_outputs(self, *exprs):
        """This program with its results bound to ``out0``, ``out1``... and ``exprs`` (source
        over its inputs, locals and those) as its results."""
        bound = [_assign(f"out{i}", o) for i, o in enumerate(self.outs)]
        return Scalar(self.stmts + bound, tuple(ast.parse(e, mode="eval").body for e in exprs))

    def compose(self, **parts):
        """This program with each named input computed by a one-result program (or source)
        first: their statements inlined, their locals renamed apart, their result bound to a
        local the program reads instead of the input."""
        stmts, bind = [], {}
        for k, (name, part) in enumerate(parts.items()):
            part = part if isinstance(part, Scalar) else Scalar(part)
            rename = {v: ast.Name(f"_{name}{k}_{v}") for v in part.locals}
            stmts += [_Substitute(rename).visit(_copy(s)) for s in part.stmts]
            stmts.append(_assign(f"_{name}{k}", _Substitute(rename).visit(_copy(part.outs[0]))))
            bind[name] = ast.Name(f"_{name}{k}")
        return _rename(Scalar(self.stmts, self.outs), stmts, **bind)


def sequence(steps, outputs, inputs):
    """One straight-line program from ``steps``, each ``(name, prog, args)``: the local
    ``name`` bound to ``prog``'s (first) result with its inputs read from ``args`` (names, or
    numbers inlined); ``prog``'s own locals renamed apart.  Results: the names ``outputs``.
    (tensorlite.compile fuses a chain of recorded ops into one kernel with it.)"""
    stmts = []
    for k, (name, prog, args) in enumerate(steps):
        sub = {v: ast.Name(f"_{k}_{v}") for v in prog.locals}
        sub.update({i: ast.Name(a) if isinstance(a, str) else ast.Constant(a)
                    for i, a in zip(prog.inputs, args)})
        stmts += [_Substitute(sub).visit(_copy(s)) for s in prog.stmts]
        stmts.append(_assign(name, _Substitute(sub).visit(_copy(prog.outs[0]))))
    return Scalar(stmts, tuple(ast.Name(o) for o in outputs), inputs=inputs)


def _assign(name, value):
    return ast.Assign([ast.Name(name, ast.Store())], value, lineno=0)


def _copy(node):
    return ast.parse(ast.unparse(node)).body[0] if isinstance(node, ast.stmt) else \
        ast.parse(ast.unparse(node), mode="eval").body


class _Substitute(ast.NodeTransformer):
    """Replace names by expressions (a Name target of an assignment by its new name)."""

    def __init__(self, names):
        self.names = names

    def visit_Name(self, node):
        new = self.names.get(node.id)
        if new is None:
            return node
        if isinstance(node.ctx, ast.Store):
            return ast.Name(new.id, ast.Store())
        return _copy(new)


@dataclass(frozen=True)
class ScalarOp:
    """One elementwise op: its forward program (inputs in the order kernels take them) and,
    per differentiable input, ``g`` times the derivative: a program of ``(g, y, *inputs)``,
    ``y`` the op's output."""
    name: str
    forward: Scalar
    grads: dict  # input name -> Scalar

    @property
    def inputs(self):
        return self.forward.inputs


def _op(signature, forward, **grads):
    """``signature``: "name(input, ...)", the inputs in the order kernels take them."""
    name, _, args = signature.partition("(")
    inputs = tuple(a.strip() for a in args.rstrip(")").split(","))
    return ScalarOp(name, Scalar(forward, inputs=inputs),
                    {k: Scalar(v, inputs=("g", "y") + inputs) for k, v in grads.items()})


_SQRT1_2 = "0.7071067811865476"    # 1 / sqrt(2)
_INV_SQRT_2PI = "0.3989422804014327"  # 1 / sqrt(2 pi)
_SQRT_2_PI = "0.7978845608028654"   # sqrt(2 / pi)

OPS = {op.name: op for op in [
    _op("neg(x)", "-x", x="-g"),
    _op("exp(x)", "exp(x)", x="g * y"),
    _op("log(x)", "log(x)", x="g / x"),
    _op("log1p(x)", "log1p(x)", x="g / (x + 1)"),
    _op("sqrt(x)", "sqrt(x)", x="g / (2 * y)"),
    _op("rsqrt(x)", "1 / sqrt(x)", x="-0.5 * g * y * y * y"),
    _op("abs(x)", "abs(x)", x="g * sign(x)"),
    _op("square(x)", "x * x", x="g * 2 * x"),
    _op("pow(x, p)", "x ** p", x="g * p * x ** (p - 1)"),
    _op("tanh(x)", "tanh(x)", x="g * (1 - y * y)"),
    _op("sigmoid(x)", "e = exp(-abs(x)); r = 1 / (1 + e); r if x >= 0 else e * r",
        x="g * y * (1 - y)"),
    _op("erf(x)", "erf(x)", x="g * 1.1283791670955126 * exp(-(x * x))"),
    _op("relu(x)", "0 if x < 0 else x", x="0 if y <= 0 else g"),  # NaN passes, -0.0 too
    _op("leaky_relu(x, slope)", "x if x > 0 else x * slope", x="g if x > 0 else g * slope"),
    _op("gelu(x)", f"0.5 * x * (1 + erf(x * {_SQRT1_2}))",
        x=f"g * (0.5 * (1 + erf(x * {_SQRT1_2})) + x * exp(-0.5 * x * x) * {_INV_SQRT_2PI})"),
    _op("gelu_tanh(x)", f"0.5 * x * (1 + tanh({_SQRT_2_PI} * (x + 0.044715 * x * x * x)))",
        x=f"t = tanh({_SQRT_2_PI} * (x + 0.044715 * x * x * x)); "
          f"g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * {_SQRT_2_PI} * "
          "(1 + 3 * 0.044715 * x * x))"),
    _op("silu(x)", "e = exp(-abs(x)); r = 1 / (1 + e); s = r if x >= 0 else e * r; x * s",
        x="e = exp(-abs(x)); r = 1 / (1 + e); s = r if x >= 0 else e * r; "
          "g * s * (1 + x * (1 - s))"),
    _op("softplus(x, beta, threshold)", "bx = x * beta; "
        "x if bx > threshold else (maximum(bx, 0) + log1p(exp(-abs(bx)))) / beta",
        x="bx = x * beta; e = exp(-abs(bx)); r = 1 / (1 + e); s = r if bx >= 0 else e * r; "
          "g if bx > threshold else g * s"),
    _op("add(a, b)", "a + b", a="g", b="g"),
    _op("sub(a, b)", "a - b", a="g", b="-g"),
    _op("mul(a, b)", "a * b", a="g * b", b="g * a"),
    _op("div(a, b)", "a / b", a="g / b", b="-g * a / (b * b)"),
    _op("maximum(a, b)", "maximum(a, b)"),
    _op("minimum(a, b)", "minimum(a, b)"),
]}

# The activations of the fused linear layer (backends' LINEAR_ACTIVATIONS): their gradient
# takes the output ``y`` (relu, tanh, sigmoid) or the pre-activation ``x`` (the GELUs).
ACTIVATIONS = ("relu", "tanh", "sigmoid", "gelu", "gelu_tanh")


def activation_grad(name):
    """g * act'(.) as a program of (g, s): s is the output or the pre-activation, as the
    backends' ``*_grad`` primitives take it."""
    prog = Scalar("g") if name is None else _rename(OPS[name].grads["x"], x="s", y="s")
    return Scalar(prog.stmts, prog.outs, inputs=("g", "s"))


def kernel_program(kind, name):
    """The program a backend's generated kernel of ``kind`` runs for the op or activation
    ``name``: "op" (the op's forward), "bias_act" (act(z + b); ``name`` None: z + b),
    "bias_act_keep" (z + b and act(z + b): GELU's backward needs both) or "grad"
    (g * act'(s)).  Both code generators (numba_codegen, cupy_codegen) take it from here."""
    if kind == "grad":
        return activation_grad(name)
    if kind == "op":
        return OPS[name].forward
    prog = Scalar("z + b") if name is None else OPS[name].forward.compose(x="z + b")
    return prog.with_outputs("_x0", "out0") if kind == "bias_act_keep" else prog


def _rename(prog, before=(), **names):
    """``prog`` reading other names (strings or Name nodes) for its inputs, after ``before``."""
    sub = {k: ast.Name(v) if isinstance(v, str) else v for k, v in names.items()}
    return Scalar(list(before) + [_Substitute(sub).visit(_copy(s)) for s in prog.stmts],
                  tuple(_Substitute(sub).visit(_copy(o)) for o in prog.outs))
