"""Score the model on the test set."""

import argparse
import json
import os

import mlflow
import mlflow.sklearn
import pandas as pd
from sklearn.metrics import accuracy_score, roc_auc_score

parser = argparse.ArgumentParser()
parser.add_argument("--model", required=True)
parser.add_argument("--test", required=True)
parser.add_argument("--report", required=True)
args = parser.parse_args()

model = mlflow.sklearn.load_model(os.path.join(args.model, "model"))
frame = pd.read_csv(os.path.join(args.test, "test.csv"))
features, label = frame.drop(columns=["defaulted"]), frame["defaulted"]
report = {"accuracy": accuracy_score(label, model.predict(features)),
          "auc": roc_auc_score(label, model.predict_proba(features)[:, 1])}
mlflow.log_metrics(report)
with open(os.path.join(args.report, "report.json"), "w") as fh:
    json.dump(report, fh, indent=2)
print(json.dumps(report))
