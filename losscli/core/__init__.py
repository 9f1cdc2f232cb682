"""The pure core: loss registry, per-sample kernels, one reduction path. NumPy in, numbers out."""
