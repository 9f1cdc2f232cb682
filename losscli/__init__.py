"""losscli: compute, compare and choose loss functions from a file of predictions."""

__version__ = "0.1.0"
