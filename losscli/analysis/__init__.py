"""Analyses built on the core: compute, bootstrap, diagnostics (and later compare, sensitivity, recommend)."""
