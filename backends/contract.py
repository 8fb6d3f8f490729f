"""The backend contract: every primitive a backend provides, declared once.

The contract is the reference backend's groups below (each a mixin in primitives.py,
arithmetic.py, nn_kernels.py, losses.py or optim_kernels.py); every public attribute of a
group is a primitive.  ``Backend`` (base.py) is these groups over an array module, so the
reference implements the whole contract by construction; a backend subclasses it (or any
backend) and overrides what it does faster.  ``check`` says what keeps a backend from
honouring the contract: a missing primitive, one the reference leaves to each backend (random
numbers) not supplied, or an override whose signature refuses a call the reference accepts.
"""
import inspect

from .arithmetic import Binary, Comparison, LinearAlgebra, Reductions, Unary
from .elementwise import Elementwise
from .losses import Losses
from .nn_kernels import ConvKernels, NNKernels
from .optim_kernels import OptimizerSteps
from .primitives import Conversion, Creation, Indexing, InPlace, Movement, Random, Sparse
from .scans import Scans
from .sorting import Sorting

GROUPS = (Creation, Conversion, Unary, Binary, Comparison, Reductions, Movement, Indexing,
          LinearAlgebra, Random, InPlace, NNKernels, ConvKernels, Losses, OptimizerSteps, Sparse,
          Sorting, Elementwise, Scans)

# group name -> its primitives, in the order they are defined
CONTRACT = {group.__name__: tuple(name for name in vars(group) if not name.startswith("_"))
            for group in GROUPS}
PRIMITIVES = tuple(name for names in CONTRACT.values() for name in names)
ATTRIBUTES = ("name", "device")  # strings: the registry's name, and "cpu" or "cuda"
_REFERENCE = {name: vars(group)[name] for group in GROUPS for name in CONTRACT[group.__name__]}


def check(backend):
    """What keeps ``backend`` (a backend class or instance) from honouring the contract, one
    sentence per problem; an empty list when it conforms."""
    cls = backend if isinstance(backend, type) else type(backend)
    problems = [f"{name}: not a string" for name in ATTRIBUTES
                if not isinstance(getattr(backend, name, None), str)]
    for name in PRIMITIVES:
        ref = _REFERENCE[name]
        try:
            impl = inspect.getattr_static(cls, name)
        except AttributeError:
            if not isinstance(backend, type) and hasattr(backend, name):
                continue  # set on the instance: its signature is the instance's business
            problems.append(f"{name}: missing")
            continue
        if not callable(ref):
            continue  # a constant (LINEAR_ACTIVATIONS): present is enough
        if not callable(_function(impl)):
            problems.append(f"{name}: not callable")
            continue
        if getattr(_function(impl), "required", False):
            problems.append(f"{name}: not implemented (the reference leaves it to each backend: "
                            f"{ref.__doc__.splitlines()[0]})")
            continue
        problems += [f"{name}: {p}" for p in _refusals(_parameters(ref), _parameters(impl))]
    return problems


def _function(attr):
    """The function behind a class attribute (staticmethod and classmethod unwrapped)."""
    return attr.__func__ if isinstance(attr, (staticmethod, classmethod)) else attr


def _parameters(attr):
    """The parameters a call passes to the class attribute ``attr`` (``self`` dropped), or None
    when they cannot be read."""
    try:
        params = list(inspect.signature(_function(attr)).parameters.values())
    except (TypeError, ValueError):
        return None
    return params if isinstance(attr, staticmethod) else params[1:]


def _refusals(ref, impl):
    """The calls accepted by parameters ``ref`` that parameters ``impl`` refuse, in words: each
    of ref's parameters must be taken the same way (a positional-only one at its position,
    whatever its name; any other under its name, at its position unless keyword-only),
    optional where ref's is; impl's other parameters must be optional."""
    if impl is None:
        return []  # a callable whose signature Python cannot read (a C function): taken as is
    kinds = {p.kind for p in impl}
    var_args, var_kwargs = inspect.Parameter.VAR_POSITIONAL in kinds, \
        inspect.Parameter.VAR_KEYWORD in kinds
    positional = [p for p in impl if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    by_name = {p.name: p for p in impl if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    matched, out = set(), []
    for i, r in enumerate(ref):
        if r.kind in (r.VAR_POSITIONAL, r.VAR_KEYWORD):
            if r.kind not in kinds:
                out.append(f"takes no {'*args' if r.kind == r.VAR_POSITIONAL else '**kwargs'}")
            continue
        if r.kind == r.POSITIONAL_ONLY:
            p = positional[i] if i < len(positional) else None
            if p is None and not var_args:
                out.append(f"takes no argument at position {i} ({r.name!r})")
        else:
            p = by_name.get(r.name)
            if p is None and r.name in {q.name for q in impl}:
                matched.add(r.name)  # there, but positional-only: said below
            if p is None and not ((var_args or r.kind == r.KEYWORD_ONLY) and var_kwargs):
                out.append(f"has no parameter {r.name!r}" if r.name not in
                           {q.name for q in impl} else f"takes {r.name!r} by position only")
            elif p is not None and r.kind == r.POSITIONAL_OR_KEYWORD and (
                    p.kind == p.KEYWORD_ONLY or positional.index(p) != i):
                out.append(f"takes {r.name!r} by keyword only" if p.kind == p.KEYWORD_ONLY
                           else f"takes {r.name!r} at position {positional.index(p)}, not {i}")
        if p is not None:
            matched.add(p.name)
            if r.default is not r.empty and p.default is p.empty:
                out.append(f"requires {r.name!r}, which the reference makes optional "
                           f"(default {r.default!r})")
    out += [f"requires {p.name!r}, a parameter the reference does not have" for p in impl
            if p.name not in matched and p.default is p.empty
            and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    return out
