"""Train a credit-default classifier and log it with MLflow (runs inside an openaml job)."""

import argparse

import mlflow
import mlflow.sklearn
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--C", type=float, default=1.0)
    parser.add_argument("--max-iter", type=int, default=200)
    args = parser.parse_args()

    frame = pd.read_csv(args.data)
    features, label = frame.drop(columns=["defaulted"]), frame["defaulted"]
    x_train, x_test, y_train, y_test = train_test_split(features, label, test_size=0.25, random_state=0)

    mlflow.log_params({"C": args.C, "max_iter": args.max_iter, "rows": len(frame)})
    model = make_pipeline(StandardScaler(), LogisticRegression(C=args.C, max_iter=args.max_iter))
    model.fit(x_train, y_train)
    accuracy = accuracy_score(y_test, model.predict(x_test))
    auc = roc_auc_score(y_test, model.predict_proba(x_test)[:, 1])
    mlflow.log_metrics({"accuracy": accuracy, "auc": auc})
    for i, c in enumerate([0.01, 0.1, 1.0, 10.0]):  # a small curve, to show metric history
        probe = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=args.max_iter)).fit(x_train, y_train)
        mlflow.log_metric("accuracy_by_C", accuracy_score(y_test, probe.predict(x_test)), step=i)
    mlflow.sklearn.log_model(model, "model")
    print(f"accuracy={accuracy:.3f} auc={auc:.3f}")


if __name__ == "__main__":
    main()
