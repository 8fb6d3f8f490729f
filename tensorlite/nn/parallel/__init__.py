"""tensorlite.nn.parallel: DistributedDataParallel (work in progress)."""
