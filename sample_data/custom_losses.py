"""Example user-defined losses for `loss ... --custom` (the guide's custom-loss patterns).

    loss compute sample_data/regression_outliers.csv -l huber \
        --custom sample_data/custom_losses.py:huber_guide \
        --custom sample_data/custom_losses.py:huber_loss_with_threshold:t=5
"""

import numpy as np


def huber_guide(y_true, y_pred):
    """The guide's TensorFlow Huber, as printed: no 0.5 on the squared branch."""
    error = y_true - y_pred
    within_threshold = np.abs(error) <= 1.0
    small_error = np.square(error)
    large_error = 1.0 * (np.abs(error) - 0.5 * 1.0)
    return np.where(within_threshold, small_error, large_error)


def huber_loss_with_threshold(t=1.0):
    """The guide's wrapper pattern: a factory taking the threshold, returning the loss."""
    if t <= 0:
        raise ValueError(f"the threshold t must be > 0, got {t}")

    def huber_loss(y_true, y_pred):
        error = y_true - y_pred
        within_threshold = np.abs(error) <= t
        small_error = 0.5 * np.square(error)
        large_error = t * (np.abs(error) - 0.5 * t)
        return np.where(within_threshold, small_error, large_error)

    return huber_loss
