"""Regenerate the new-user data sets: python tests/data/generate.py (needs the test extra).

scikit-learn's bundled data sets with ordinary models, as a new user would try
the tool: the model is fitted on a training split (random_state=0) and the
files hold its predictions on the held-out rows. The verdict, warning and
recommendation tests (tests/test_trust.py) read these files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import (
    load_breast_cancer,
    load_diabetes,
    load_digits,
    load_linnerud,
    load_wine,
)
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

HERE = Path(__file__).parent


def save(name: str, frame: pd.DataFrame) -> None:
    frame.to_csv(HERE / name, index=False, float_format="%.10g")


def regression(name: str, x: np.ndarray, y: np.ndarray, test_size: float | None) -> None:
    if test_size is None:  # too few rows to hold any out: in-sample predictions
        x_train = x_test = x
        y_train = y_test = y
    else:
        x_train, x_test, y_train, y_test = train_test_split(
            x, y, test_size=test_size, random_state=0
        )
    linear = LinearRegression().fit(x_train, y_train)
    forest = RandomForestRegressor(n_estimators=100, random_state=0).fit(x_train, y_train)
    frame = pd.DataFrame(
        {
            "y_true": y_test,
            "linear": linear.predict(x_test),
            "random_forest": forest.predict(x_test),
        }
    )
    save(name, frame)


def classification(name: str, x, y, names, model, test_size: float, hard: bool = False) -> None:
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=test_size, random_state=0)
    model.fit(x_train, y_train)
    if len(names) == 2:
        p = model.predict(x_test) if hard else model.predict_proba(x_test)[:, 1]
        frame = pd.DataFrame({"y_true": y_test, "y_pred": p})
    else:
        proba = model.predict_proba(x_test)
        frame = pd.DataFrame({"y_true": [names[i] for i in y_test]})
        for j, cls in enumerate(names):
            frame[f"y_pred_{cls}"] = proba[:, j]
    save(name, frame)


def main() -> None:
    diabetes = load_diabetes()
    regression("diabetes.csv", diabetes.data, diabetes.target, 0.3)  # 133 rows
    linnerud = load_linnerud()
    regression("linnerud.csv", linnerud.data, linnerud.target[:, 0], None)  # 20 rows
    wine = load_wine()
    logistic = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
    classification(
        "wine_logistic.csv", wine.data, wine.target, list(wine.target_names), logistic, 0.25
    )
    digits = load_digits()
    forest = RandomForestClassifier(n_estimators=100, random_state=0)
    classification(
        "digits_rf.csv", digits.data, digits.target, [str(i) for i in range(10)], forest, 0.3
    )
    cancer = load_breast_cancer()
    logistic = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
    classification("cancer_proba.csv", cancer.data, cancer.target, ["0", "1"], logistic, 0.3)
    classification(
        "cancer_hard.csv", cancer.data, cancer.target, ["0", "1"], logistic, 0.3, hard=True
    )


if __name__ == "__main__":
    main()
