"""Train a logistic regression on the credit data (used by the component example)."""

import argparse
import json
import os

import pandas as pd
from sklearn.linear_model import LogisticRegression


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--max-iter", type=int, default=100)
    parser.add_argument("--penalty", default="l2")
    parser.add_argument("--class-weight", default=None)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    frame = pd.read_csv(args.data)
    features, label = frame.drop(columns=["defaulted"]), frame["defaulted"]
    model = LogisticRegression(C=1.0 / args.lr, max_iter=args.max_iter, penalty=args.penalty,
                               class_weight=args.class_weight, solver="liblinear")
    model.fit(features, label)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "model.json"), "w") as fh:
        json.dump({"coef": model.coef_.tolist(), "intercept": model.intercept_.tolist(),
                   "accuracy": model.score(features, label)}, fh)


if __name__ == "__main__":
    main()
