"""tensorlite.distributed: data-parallel collectives shaped like ``torch.distributed`` (work in
progress)."""
