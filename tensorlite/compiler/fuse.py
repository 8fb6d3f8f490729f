"""Optimizing passes over a captured trace (placeholder: filled in below)."""
from __future__ import annotations

from typing import Any


def optimize(trace: Any, options: dict[str, bool]) -> Any:
    return trace
