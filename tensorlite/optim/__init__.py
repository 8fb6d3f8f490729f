"""tensorlite.optim (PyTorch-shaped)."""
