"""``tensorlite.linalg``: PyTorch's ``torch.linalg`` namespace (norms, inverses, solvers,
decompositions), with gradients where PyTorch has them."""
