"""``tensorlite.onnx``: importable, as programs ``import torch.onnx`` at the top; exporting is
not supported (tensorlite has no graph exporter)."""
from typing import Any


def export(model: Any, args: Any, f: Any, *rest: Any, **kwargs: Any) -> None:
    raise NotImplementedError("onnx.export: tensorlite cannot export ONNX graphs; save the "
                              "weights with tensorlite.save_file (safetensors) or "
                              "tensorlite.save and export from PyTorch")
