"""tensorlite.data (PyTorch-shaped)."""
