"""Backend registry and selection.

A backend is registered by name with the module and class that build it and a hint for
installing what it needs.  Third-party packages register more through the entry-point group
``tensorlite.backends`` (the entry point names a Backend subclass).  Backends are built on
first use, so importing tensorlite never imports Numba or CuPy, compiles a kernel or needs a GPU.
"""
import contextlib
import importlib

_BUILTIN = {
    "numpy": ("tensorlite.backends.numpy_backend:NumpyBackend", "included with tensorlite"),
    "numba": ("tensorlite.backends.numba_backend:NumbaBackend", 'pip install "tensorlite[numba]"'),
    "cupy": ("tensorlite.backends.cupy_backend:CupyBackend",
             'pip install "tensorlite[cuda]" (needs an NVIDIA GPU with a CUDA 12 driver)'),
}
_registry = dict(_BUILTIN)
_built = {}           # name -> Backend instance
_failures = {}        # name -> why it cannot run here
active = {}           # device -> the backend that runs ops on tensors of that device
_default = ["cpu"]    # the device new tensors are created on
_seed = [None]        # the last manual_seed, applied to backends built after it


_scanned = []  # whether third-party entry points were read into _registry


def _all():
    """The registry including third-party backends.  Their entry points are read on the first
    call (the scan of installed packages costs ~25 ms, too much for every import), which comes
    when a name outside the built-ins, or the whole list, is asked for."""
    if not _scanned:
        from importlib.metadata import entry_points
        for ep in entry_points(group="tensorlite.backends"):
            _registry.setdefault(ep.name, (ep.value,
                                           f"provided by the package that registers {ep.name!r}"))
        _scanned.append(True)
    return _registry


def known():
    """Every registered backend name, whether or not it can run here."""
    return list(_all())


def _build(name):
    if name not in _registry and name not in _all():
        raise ValueError(
            f"unknown tensorlite backend {name!r}; known backends: "
            + "; ".join(f"{n} ({hint})" for n, (_, hint) in _registry.items()))
    if name not in _built:
        if name in _failures:
            raise RuntimeError(_failures[name])
        target, hint = _registry[name]
        module, cls = target.split(":")
        try:
            _built[name] = getattr(importlib.import_module(module), cls)()
            if _seed[0] is not None:
                _built[name].seed(_seed[0])
        except Exception as e:  # missing package, no GPU, broken driver: say which, and the fix
            _failures[name] = f"backend {name!r} cannot run here: {e}. To install it: {hint}"
            raise RuntimeError(_failures[name]) from e
    return _built[name]


def get(name):
    """The backend object for ``name`` (built on first use)."""
    return _build(name)


def unavailable_reason(name):
    """None if backend ``name`` can run here, else a sentence saying why not and how to fix it."""
    try:
        _build(name)
    except (RuntimeError, ValueError) as e:
        return str(e)
    return None


def available():
    """The backend names that can run on this machine."""
    return [n for n in _all() if unavailable_reason(n) is None]


def for_device(device):
    """The backend that runs ops on ``device`` (the active one, else that device's first)."""
    try:
        return active[device]
    except KeyError:
        pass
    for name in _all():
        if unavailable_reason(name) is None and _built[name].device == device:
            active[device] = _built[name]
            return _built[name]
    raise RuntimeError(f"no available tensorlite backend runs on device {device!r}; "
                       f"known backends: {known()}; install cupy for 'cuda' ({_BUILTIN['cupy'][1]})")


def set_backend(name):
    """Make ``name`` the backend for its device and that device the default for new tensors."""
    backend = _build(name)
    active[backend.device] = backend
    _default[0] = backend.device
    return backend


def get_backend():
    """The backend that new tensors (created without ``device=``) use."""
    return for_device(_default[0])


def default_device():
    return _default[0]


def set_default_device(device):
    """Create new tensors on ``device`` ('cpu' or 'cuda') when no ``device=`` is given, as
    ``torch.set_default_device``; the device needs a backend that runs here."""
    device = str(device).split(":")[0]
    for_device(device)  # raises, naming what to install, when no backend runs there
    _default[0] = device


def manual_seed(seed):
    from tensorlite._capture_hooks import active as capturing
    if capturing:  # inside tensorlite.compile's capture: re-seeded on every replay too
        return capturing[-1].host_call(_reseed, None, (seed,), {})
    _reseed(None, seed)


def _reseed(_, seed):
    _seed[0] = seed
    for backend in _built.values():
        backend.seed(seed)


@contextlib.contextmanager
def use_backend(name):
    """Run a block with backend ``name``; the previous selection is restored afterwards."""
    saved_active, saved_default = dict(active), _default[0]
    try:
        yield set_backend(name)
    finally:
        active.clear()
        active.update(saved_active)
        _default[0] = saved_default
