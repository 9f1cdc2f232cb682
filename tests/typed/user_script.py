"""A small user script of the Python API; `mypy --strict` must accept it (test_api_typing)."""

from __future__ import annotations

import warnings

import numpy as np
import numpy.typing as npt

import losscli as lc


def evaluate(y_true: list[float], y_pred: list[float]) -> dict[str, float]:
    data = {"y_true": y_true, "y_pred": y_pred}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", lc.LossWarning)
        result: lc.ComputeResult = lc.compute(data, losses="mse,mae", ci=0.9, n_boot=20)
    row: dict[str, float] = {"mse": result.value("mse"), "mae": result.value("mae")}
    huber: float = lc.losses.huber(y_true, y_pred, delta=2.0)
    row["huber"] = huber
    return row


def streamed(chunks: list[tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]]) -> float:
    acc = lc.Accumulator("mse,median_ae", task="regression")
    for y, p in chunks:
        acc.update(y, p)
    return acc.merge(lc.Accumulator("mse,median_ae", task="regression")).result().value("mse")


def main() -> None:
    try:
        lc.compute({"y_true": [1.0]}, losses="msee")
    except lc.UsageError as exc:
        print(exc)
    except lc.InputError as exc:
        print(exc)
    compared: lc.CompareResult = lc.compare("data.csv", y_pred=["a", "b"])
    curves: lc.CurvesResult = lc.compare_losses(["mse", "huber:delta=2"], errors="-3:3:13")
    advice: lc.RecommendResult = lc.recommend(outliers=True, losses="mse")
    convexity: lc.ExplainResult = lc.explain("mse", link="sigmoid")
    outliers: lc.SensitivityResult = lc.sensitivity("data.csv", rule="iqr")
    catalogue: list[dict[str, object]] = lc.list_losses("regression")
    info: dict[str, object] = lc.loss_info("mse")
    payload: dict[str, object] = compared.to_dict()
    print(curves.to_dict(), advice.to_pandas(), convexity.convex, outliers.to_dict())
    print(catalogue, info, payload, evaluate([1.0, 2.0], [1.5, 2.0]), streamed([]))
