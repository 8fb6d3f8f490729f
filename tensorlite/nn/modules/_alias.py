"""The submodules of ``torch.nn.modules`` (``torch.nn.modules.linear.Linear``, ...), for code
ported from PyTorch that names classes by their module path (``safe_globals`` lists, isinstance
checks): each holds PyTorch's names and finds them in ``tensorlite.nn``."""
from typing import Any, Callable


def exports(names: list[str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` giving ``tensorlite.nn``'s class for each of ``names``."""
    def __getattr__(name: str) -> Any:
        import tensorlite.nn as nn
        if name in names:
            found = getattr(nn, name, None)
            if found is None:  # (NonDynamicallyQuantizableLinear lives only in its file)
                from .. import transformer
                found = getattr(transformer, name, None)
            if found is None:
                raise AttributeError(f"tensorlite.nn has no {name} yet (PyTorch's "
                                     f"torch.nn.modules: {name})")
            return found
        raise AttributeError(name)
    return __getattr__
