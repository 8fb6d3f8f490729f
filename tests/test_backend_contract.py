"""The backend contract (tensorlite/backends/contract.py): every backend implements it, the
reference declares it once, and a third-party backend plugs in through the entry point, as
docs/backends.md shows."""
import inspect
import re
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

import tensorlite as tl
from tensorlite import backends as registry
from tensorlite.backends import contract
from tensorlite.backends.base import Backend
from tensorlite.backends.cupy_backend import CupyBackend
from tensorlite.backends.numpy_backend import NumpyBackend

from cupy_standin import host_cupy  # noqa: F401  (a pytest fixture used by name)

ROOT = Path(__file__).resolve().parents[1]


# -- every backend honours the contract ----------------------------------------------------------
@pytest.mark.parametrize("name", registry.known())
def test_every_registered_backend_implements_the_contract(name):
    reason = registry.unavailable_reason(name)
    if reason is not None:
        pytest.skip(reason)
    assert contract.check(registry.get(name)) == []


def test_the_backend_classes_implement_the_contract_without_being_built():
    """Checked on the classes too: CupyBackend needs no GPU for this."""
    classes = [NumpyBackend, CupyBackend]
    if registry.unavailable_reason("numba") is None:
        classes.append(type(registry.get("numba")))
    for cls in classes:
        assert contract.check(cls) == [], cls.__name__


def test_the_cupy_host_stand_in_implements_the_contract(host_cupy):
    assert contract.check(host_cupy) == []


# -- the reference declares it once --------------------------------------------------------------
def test_the_reference_is_the_groups_and_nothing_else():
    assert Backend.__mro__[1:-1] == contract.GROUPS
    assert len(set(contract.PRIMITIVES)) == len(contract.PRIMITIVES), "a name in two groups"
    public = {n for n in dir(Backend) if not n.startswith("_")}
    assert public == set(contract.PRIMITIVES) | set(contract.ATTRIBUTES)


@pytest.mark.parametrize("name", [n for n in contract.PRIMITIVES
                                  if callable(getattr(Backend, n))])
def test_every_primitive_says_what_it_computes(name):
    doc = inspect.getdoc(getattr(Backend, name))
    assert doc and doc.splitlines()[0].strip(), f"{name} has no one-line summary"


# Arguments for each primitive marked direct: the reference method and the array function bound
# in its place must agree.
_X, _Y = np.array([[1.5, -2.0, 0.0], [4.0, 0.25, -1.0]]), np.array([0.5, 2.0, -3.0])
_DIRECT_ARGS = {
    "neg": (_X,), "exp": (_X,), "log": (np.abs(_X) + 1,), "sqrt": (np.abs(_X),), "abs": (_X,),
    "sin": (_X,), "cos": (_X,), "tanh": (_X,), "isfinite": (np.array([1.0, np.inf, np.nan]),),
    "add": (_X, _Y), "sub": (_X, 2), "mul": (_X, _Y), "div": (_X, _Y), "maximum": (_X, _Y),
    "minimum": (_X, _Y), "eq": (_X, _Y), "ne": (_X, _Y), "lt": (_X, _Y), "le": (_X, _Y),
    "gt": (_X, _Y), "ge": (_X, _Y), "logical_and": (_X > 0, _Y > 0),
    "logical_not": (_X > 0,), "where": (_X > 0, _X, _Y),
    "argsort": (_X, 0), "reshape": (_X, (3, 2)), "transpose": (_X, (1, 0)),
    "broadcast_to": (_Y, (4, 3)), "concatenate": ([_X, _X], 1), "stack": ([_Y, _Y], 0),
    "tile": (_Y, (2, 1)), "take_along_axis": (_X, np.array([[2], [0]]), 1),
    "ascontiguousarray": (_X.T,), "zeros": ((2, 3), np.float32), "ones": ((2,), np.int64),
    "full": ((2, 2), 7.0, np.float32), "arange": (2, 9, 3, {"dtype": np.int64}),
    "linspace": (0.0, 1.0, 5, {"dtype": np.float32}), "eye": (3, 2, {"dtype": np.float32}),
    "zeros_like": (_X, np.int32),
}
_MARKED = {n: getattr(Backend, n).xp_name for n in contract.PRIMITIVES
           if hasattr(getattr(Backend, n), "xp_name")}


def test_a_direct_primitive_is_its_array_function():
    B = NumpyBackend()
    assert set(_MARKED) == set(_DIRECT_ARGS) | {"empty"}
    for name, xp_name in _MARKED.items():
        assert getattr(B, name) is getattr(np, xp_name), name  # bound in the method's place
        if name == "empty":
            continue
        args, kwargs = _DIRECT_ARGS[name], {}
        if isinstance(args[-1], dict):  # options by keyword
            args, kwargs = args[:-1], args[-1]
        expected = getattr(type(B), name)(B, *args, **kwargs)  # the method's own body
        got = getattr(B, name)(*args, **kwargs)
        assert got.dtype == expected.dtype and np.array_equal(got, expected), name


@pytest.mark.parametrize("name", sorted(_MARKED))
def test_a_direct_primitive_takes_what_its_array_function_takes(name):
    """Every call the method's signature allows, NumPy's function allows too (on the instance
    the function stands in the method's place)."""
    fn = getattr(np, _MARKED[name])
    try:
        params = list(inspect.signature(fn).parameters.values())
    except ValueError:
        pytest.skip(f"numpy.{_MARKED[name]} has no signature to read")
    ref = list(inspect.signature(getattr(Backend, name)).parameters.values())[1:]
    assert contract._refusals(ref, params) == []


def test_an_override_of_a_direct_primitive_wins():
    class Doubling(NumpyBackend):
        def add(self, a, b):
            """2 (a + b)."""
            return 2 * super().add(a, b)

    assert Doubling().add(np.ones(2), np.ones(2)).tolist() == [4.0, 4.0]
    assert NumpyBackend().add is np.add


def test_check_names_what_breaks_the_contract():
    class Broken(NumpyBackend):
        def sum(self, x, dim=None, keepdims=False):  # renamed parameter
            """Sum."""

        def amax(self, x, axis, keepdims=False):  # made required
            """Max."""

        def matmul(self, a, b, out=None, *, order):  # an extra required parameter
            """Product."""

        def transpose(self, x, *, axes=None):  # made keyword-only
            """Permute."""

        def where(self, c, x, y):  # operands taken by position only: their names are free
            """Select."""

        def sgd_step(self, param, grad, momentum_buf, lr, momentum=0.0, dampening=0.0,
                     weight_decay=0.0, maximize=False, nesterov=False, first=False):  # swapped
            """SGD."""

        def linear(self, *args, **kwargs):  # a wrapper takes everything
            """Linear."""
        exp = None
        device = 0

    assert contract.check(Broken) == [
        "device: not a string",
        "exp: not callable",
        "sum: has no parameter 'axis'",
        "amax: requires 'axis', which the reference makes optional (default None)",
        "transpose: takes 'axes' by keyword only",
        "matmul: requires 'order', a parameter the reference does not have",
        "sgd_step: takes 'nesterov' at position 8, not 7",
        "sgd_step: takes 'maximize' at position 7, not 8",
    ]
    assert contract.check(Backend) == [
        f"{n}: not implemented (the reference leaves it to each backend: "
        f"{inspect.getdoc(getattr(Backend, n)).splitlines()[0]})"
        for n in ("seed",)]
    missing = contract.check(object())
    assert "name: not a string" in missing and "add: missing" in missing


def test_the_front_end_reaches_arrays_only_through_primitives():
    """No module of the front end touches a backend's array module (``.xp``).  tensorlite/nn
    is being moved over to primitives and is exempt until then."""
    exempt = {"nn"}
    offenders = []
    for path in sorted((ROOT / "tensorlite").rglob("*.py")):
        if path.relative_to(ROOT / "tensorlite").parts[0] in exempt:
            continue
        for i, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"\.xp\b", line):
                offenders.append(f"{path.relative_to(ROOT)}:{i}: {line.strip()}")
    assert offenders == []


def test_the_documented_table_is_the_contract():
    rows = re.findall(r"^\| `(\w+)` \| `(\w+)\.py` \| (.*) \|$",
                      (ROOT / "docs" / "backends.md").read_text(), re.M)
    table = {group: (module, re.findall(r"`(\w+)`", names)) for group, module, names in rows}
    assert {g: names for g, (_, names) in table.items()} == \
        {g: list(names) for g, names in contract.CONTRACT.items()}
    for group in contract.GROUPS:
        assert group.__module__ == f"tensorlite.backends.{table[group.__name__][0]}"


# -- a third-party backend, as docs/backends.md writes it ----------------------------------------
def _doc_blocks(language):
    text = (ROOT / "docs" / "backends.md").read_text()
    return re.findall(rf"```{language}\n(.*?)```", text, re.S)


@pytest.fixture
def installed_example(tmp_path, monkeypatch):
    """The example package of docs/backends.md installed in a temporary folder on sys.path with
    its entry point, and a registry that has not read the entry points yet (restored after)."""
    module_code, usage = _doc_blocks("python")
    (toml,) = _doc_blocks("toml")
    entry = tomllib.loads(toml)["project"]["entry-points"]["tensorlite.backends"]
    (name, target), = entry.items()
    module = target.split(":")[0]
    (tmp_path / f"{module}.py").write_text(module_code)
    dist = tmp_path / f"{module}-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[tensorlite.backends]\n{name} = {target}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, module, raising=False)
    for attr in ("_registry", "_built", "_failures"):
        monkeypatch.setattr(registry, attr, dict(getattr(registry, attr)))
    monkeypatch.setattr(registry, "_scanned", [])
    return name, usage


def test_a_third_party_backend_plugs_in_through_the_entry_point(installed_example, capsys):
    name, usage = installed_example
    assert name == "counting" and name in registry.known() and name in registry.available()
    backend = registry.get(name)
    assert contract.check(backend) == []
    assert isinstance(backend, NumpyBackend) and backend.device == "cpu"
    # the documented use runs and prints what the page says
    exec(compile(usage, "docs/backends.md", "exec"), {})
    assert capsys.readouterr().out.strip() == str(32 * 10 * 784)
    # the override is used by the tape, and the results are numpy's
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    with tl.use_backend(name) as b:
        before = b.macs
        a = tl.tensor(x, requires_grad=True)
        y = (a @ a.T).sum()
        y.backward()
        assert b.macs - before == 4 * 4 * 3 * 3  # the forward product and two in backward
    assert y.item() == pytest.approx(float((x @ x.T).sum()), rel=1e-6)
    np.testing.assert_allclose(a.grad.numpy(), 2 * np.ones((4, 4), np.float32) @ x, rtol=1e-6)
