"""Numerically stable building blocks: log-sigmoid, softplus, log-softmax.

Logits are never turned into probabilities and then logged: ``log(sigmoid(z))``
underflows to -inf for z < -745, ``log_sigmoid(z)`` stays exact.
"""

from __future__ import annotations

from typing import cast

import numpy as np


def softplus(z: np.ndarray) -> np.ndarray:
    """log(1 + exp(z)) without overflow."""
    z = np.asarray(z, dtype=np.float64)
    return cast(np.ndarray, np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z))))


def log_sigmoid(z: np.ndarray) -> np.ndarray:
    """log(sigmoid(z)) = -softplus(-z)."""
    return -softplus(-np.asarray(z, dtype=np.float64))


def sigmoid(z: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-z)) without overflow warnings."""
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(-np.abs(z))
    return cast(np.ndarray, np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e)))


def log_softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise log-softmax of an (n, K) array of logits."""
    z = np.asarray(z, dtype=np.float64)
    shifted = z - np.max(z, axis=1, keepdims=True)
    return cast(np.ndarray, shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True)))


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax of an (n, K) array of logits."""
    return cast(np.ndarray, np.exp(log_softmax(z)))
