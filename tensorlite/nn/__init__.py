"""tensorlite.nn (PyTorch-shaped)."""
