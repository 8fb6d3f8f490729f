"""Scans and the reductions beyond reduce.py's: cumulative ops, products, norms, quantiles."""
