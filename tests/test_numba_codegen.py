"""The kernel generator (backends/numba_codegen.py) over the scalar-op table (scalar_ops.py),
and the float32 polynomials of backends/numba_math.py.

Accuracy: exp, log, tanh, erf, log1p in float32 against float64 math rounded to float32, over
every float32 in [-10, 10] sampled at 2**20 + 1 points and a sweep of bit patterns over the
whole range: at most 2 ulp (the bound numba_math's docstring states); special values (inf,
-inf, NaN, +-0, the overflow and underflow bounds, subnormals) exactly as torch.
Layouts: every broadcast the grid takes, strided operands and a refused broadcast, bitwise
against NumPy for the arithmetic ops, on one thread and on two.  Table: every op's gradient
program against a central difference of its forward program, in float64.
"""
import numpy as np
import pytest
import torch

from tensorlite import backends

pytestmark = pytest.mark.skipif(backends.unavailable_reason("numba") is not None,
                                reason=str(backends.unavailable_reason("numba")))

if backends.unavailable_reason("numba") is None:
    from tensorlite.backends import numba_codegen as G
    from tensorlite.backends.scalar_ops import OPS, Scalar, activation_grad

special = pytest.importorskip("scipy.special")

F32 = np.float32
REFERENCE = {"exp": np.exp, "log": np.log, "tanh": np.tanh, "erf": special.erf,
             "log1p": np.log1p}
TORCH = {"exp": torch.exp, "log": torch.log, "tanh": torch.tanh, "erf": torch.erf,
         "log1p": torch.log1p}


def _key(v):
    """float32 values as integers in the order of the reals (ulp distance = difference)."""
    i = v.view(np.int32).astype(np.int64)
    return np.where(i < 0, -(i & 0x7FFFFFFF), i)


def _ulps(got, want):
    d = np.abs(_key(got) - _key(want))
    d[np.isnan(got) & np.isnan(want)] = 0
    return d


def _f32(name, x):
    (y,) = G.Elementwise(OPS[name].forward)(x)
    return y


def _points():
    dense = np.linspace(-10, 10, 2 ** 20 + 1, dtype=np.float64).astype(F32)
    sweep = np.arange(0, 2 ** 32, 4099, dtype=np.uint64).astype(np.uint32).view(F32)
    return np.concatenate([dense, sweep[np.isfinite(sweep)]])


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_float32_within_2_ulp(name):
    x = _points()
    if name == "log":
        x = np.abs(x)
    elif name == "log1p":
        x = x[x > -1]
    with np.errstate(all="ignore"):
        want = REFERENCE[name](x.astype(np.float64)).astype(F32)
    d = _ulps(_f32(name, x), want)
    worst = int(np.argmax(d))
    assert d.max() <= 2, f"{name}({x[worst]!r}) is {d.max()} ulp off"
    assert d.max() >= 0


EDGES = np.array([np.inf, -np.inf, np.nan, 0.0, -0.0, 1.0, -1.0, 88.72, 88.7228, 88.73, 89.0,
                  1e30, -87.33, -87.34, -100.0, -103.9, -103.98, -104.0, -1e30, 1e-45, -1e-45,
                  1.17549435e-38, 1e-40, -1e-40, 3.4028235e38, -3.4028235e38, 0.625, -0.625,
                  0.921875, 3.9, 4.0, 9.0, 10.0, -0.99999994, 5e-8], dtype=F32)


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_float32_edges_match_torch(name):
    x = EDGES
    if name == "log1p":  # torch's log1p flushes a subnormal x to 0; log1p(x) = x there
        x = x[(np.abs(x) >= 1.17549435e-38) | (x == 0) | ~np.isfinite(x)]
    got = _f32(name, x)
    want = TORCH[name](torch.from_numpy(x)).numpy()
    special_ = ~np.isfinite(want) | (want == 0)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(got[special_], want[special_])  # inf, NaN, 0 exactly
    num = ~np.isnan(want)
    np.testing.assert_array_equal(np.signbit(got[num]), np.signbit(want[num]))  # -0.0 too
    assert _ulps(got, want).max() <= 2


def test_float64_is_libm():
    x = np.linspace(-20, 20, 1001)
    for name in ("exp", "tanh", "erf"):
        np.testing.assert_allclose(_f32(name, x), REFERENCE[name](x), rtol=1e-15, atol=0)


# -- layouts: broadcasting and strides, in one place -----------------------------------------------
BROADCASTS = [((5, 7), (7,)), ((5, 7), (5, 1)), ((7,), (5, 7)), ((5, 1), (1, 7)),
              ((2, 3, 4), (3, 4)), ((2, 3, 4), (2, 3, 1)), ((2, 3, 4), (1,)), ((2, 3, 4), ()),
              ((1, 6), (6,)), ((4, 1, 1), (4, 3, 5)), ((0, 3), (3,)), ((3, 0), (3, 1))]


# (the pool's split is dtype-blind: it runs in one dtype, which keeps CI's cold compile short)
@pytest.mark.parametrize("dtype,threads", [(np.float32, 1), (np.float64, 1), (np.float32, 2)])
@pytest.mark.parametrize("shapes", BROADCASTS)
@pytest.mark.parametrize("op", ["sub", "div"])  # not commutative: the order counts
def test_binary_broadcasts_bitwise(rng, op, shapes, dtype, threads):
    a, b = (rng.standard_normal(s).astype(dtype) for s in shapes)
    (got,) = G.Elementwise(OPS[op].forward)(a, b, threads=threads)
    want = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide}[op](a, b)
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


def test_strided_scalars_and_refused(rng):
    a = rng.standard_normal((6, 8))[:, ::2]  # strided: copied once
    b = rng.standard_normal((8, 6)).T[:, :1]  # a column of a transposed array
    (got,) = G.Elementwise(OPS["mul"].forward)(a, b)
    np.testing.assert_array_equal(got, a * b)
    (got,) = G.Elementwise(OPS["leaky_relu"].forward)(a, 0.25)  # a number: the array's dtype
    np.testing.assert_array_equal(got, np.where(a > 0, a, a * 0.25))
    a32 = a.astype(np.float32)
    (got,) = G.Elementwise(OPS["mul"].forward)(a32, np.float32(0.1))
    np.testing.assert_array_equal(got, a32 * np.float32(0.1))
    # (2, 1, 4) against (2, 3, 1): no grid of rows and columns holds both
    assert G.layout([np.ones((2, 1, 4)), np.ones((2, 3, 1))]) is None
    assert G.Elementwise(OPS["add"].forward)(np.ones((2, 1, 4)), np.ones((2, 3, 1))) is None


def test_cached_plan_per_shapes(rng):
    """The plan is kept by the operands' shapes: one kernel called with a number, a one-element
    array, a row, a full array (contiguous, then strided) and rows= at one position, in turn,
    each against NumPy."""
    k = G.Elementwise(OPS["mul"].forward)
    a = rng.standard_normal((6, 8))
    for _ in range(2):  # the second time round from the cache
        for b in (2.5, np.array([0.5]), rng.standard_normal(8), rng.standard_normal((6, 8)),
                  rng.standard_normal((6, 16))[:, ::2], np.array(3.0)):
            (got,) = k(a, b)
            np.testing.assert_array_equal(got, a * b)
            bs = b[..., ::2] if np.size(b) > 1 else b
            (got,) = k(a[:, ::2], bs)  # strided: copied
            np.testing.assert_array_equal(got, a[:, ::2] * bs)
        g, s = a.astype(F32), rng.standard_normal((6, 8)).astype(F32)
        kc = G.Elementwise(activation_grad("tanh"), colsum=True)
        for rows in (6, 3):
            gz, sums = kc(g, s, rows=rows)
            np.testing.assert_array_equal(sums, gz.reshape(rows, -1).sum(0))


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("shape", [(1, 1), (3, 17), (40, 70), (2, 5)])
def test_colsum_is_numpy_sum0(rng, shape, threads):
    """The column sums a kernel keeps are NumPy's sum(0), bitwise (top to bottom)."""
    g, s = rng.standard_normal(shape).astype(F32), rng.standard_normal(shape).astype(F32)
    k = G.Elementwise(activation_grad("gelu"), colsum=True)
    gz, sums = k(g, s, threads=threads, rows=shape[0])
    (plain,) = G.Elementwise(activation_grad("gelu"))(g, s)
    np.testing.assert_array_equal(gz, plain)
    np.testing.assert_array_equal(sums, gz.sum(0))


def test_out_arrays_and_in_place(rng):
    z, b = rng.standard_normal((4, 6)), rng.standard_normal(6)
    want_pre = z + b
    prog = OPS["gelu"].forward.compose(x="z + b").with_outputs("_x0", "out0")
    y = np.empty_like(z)
    pre, out = G.Elementwise(prog)(z, b, out=(z, y))
    assert pre is z and out is y
    np.testing.assert_array_equal(z, want_pre)
    (g1,) = G.Elementwise(OPS["gelu"].forward)(want_pre)
    np.testing.assert_array_equal(y, g1)


# -- the programs: composition and the table's derivatives -----------------------------------------
def test_compose_is_the_chain(rng):
    x = rng.standard_normal(1000).astype(F32)
    (s,) = G.Elementwise(OPS["sigmoid"].forward)(x)
    (two,) = G.Elementwise(OPS["tanh"].forward)(s)
    fused = OPS["tanh"].forward.compose(x=OPS["sigmoid"].forward)
    assert fused.inputs == ("x",)
    (one,) = G.Elementwise(fused)(x)
    np.testing.assert_array_equal(one, two)
    both = fused.with_outputs("out0", "out0 * 2")
    assert len(both.outs) == 2
    a, b2 = G.Elementwise(both)(x)
    np.testing.assert_array_equal(b2, two * 2)


def test_program_inputs_and_errors():
    assert OPS["softplus"].inputs == ("x", "beta", "threshold")
    assert activation_grad("sigmoid").inputs == ("g", "s")
    assert Scalar("e = exp(x); e * y").inputs == ("x", "y")
    with pytest.raises(ValueError, match="assignments then an expression"):
        Scalar("x = 1")
    with pytest.raises(ValueError, match="reads"):
        Scalar("x * z", inputs=("x",))


PARAMS = {"pow": {"p": 2.5}, "leaky_relu": {"slope": 0.1},
          "softplus": {"beta": 1.5, "threshold": 4.0}}


@pytest.mark.parametrize("name", sorted(n for n in OPS if OPS[n].grads))
def test_gradient_programs_are_derivatives(rng, name):
    op = OPS[name]
    n = 257
    args = {v: rng.uniform(0.2, 2.0, n) * rng.choice([-1, 1], n) for v in op.inputs}
    if name in ("log", "sqrt", "rsqrt", "pow", "log1p"):
        args = {v: np.abs(a) for v, a in args.items()}
    args.update(PARAMS.get(name, {}))
    fwd = G.Elementwise(op.forward)
    (y,) = fwd(*(args[v] for v in op.inputs))
    h = 1e-6
    for wrt, prog in op.grads.items():
        env = dict(args, g=np.ones(n), y=y)
        (got,) = G.Elementwise(prog)(*(env[v] for v in prog.inputs))
        hi, lo = dict(args), dict(args)
        hi[wrt], lo[wrt] = args[wrt] + h, args[wrt] - h
        diff = (fwd(*(hi[v] for v in op.inputs))[0] - fwd(*(lo[v] for v in op.inputs))[0]) / (2 * h)
        np.testing.assert_allclose(got, diff, rtol=1e-6, atol=1e-6, err_msg=f"d {name} / d {wrt}")


def test_generated_module_is_written_once(tmp_path, monkeypatch):
    monkeypatch.setenv("TENSORLITE_KERNEL_DIR", str(tmp_path))
    src = G.source(Scalar("a * 3 + b", inputs=("a", "b")), "ar", 1, False)
    mod = G._load(src)
    assert G._load(src) is mod
    files = list(tmp_path.glob("tl_*.py"))
    assert len(files) == 1 and files[0].read_text() == src
    a, b = np.arange(6.0).reshape(2, 3), np.arange(3.0)
    out = np.empty_like(a)
    mod.body(a.reshape(-1), b, out.reshape(-1), 3, 0, 2, 0, 3)
    np.testing.assert_array_equal(out, a * 3 + b)
