"""``tensorlite.cuda``: the few ``torch.cuda`` calls programs make to pick a device, answered
from the backends (a GPU is there when a backend for 'cuda', the cupy one, can run)."""
from . import backends


def is_available() -> bool:
    """Whether a backend runs on 'cuda' here."""
    try:
        backends.for_device("cuda")
    except RuntimeError:
        return False
    return True


def device_count() -> int:
    """1 when a GPU backend runs (tensorlite uses one device per process), else 0."""
    return int(is_available())


def manual_seed(seed: int) -> None:
    """Seed the random streams (every backend's, as ``tensorlite.manual_seed``)."""
    from .creation import manual_seed as seed_every_backend
    seed_every_backend(seed)


manual_seed_all = manual_seed
