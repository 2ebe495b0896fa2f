"""Fit a scaled logistic regression and save it as an MLflow model."""

import argparse
import os

import mlflow
import mlflow.sklearn
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

parser = argparse.ArgumentParser()
parser.add_argument("--train", required=True)
parser.add_argument("--C", type=float, default=1.0)
parser.add_argument("--model-out", required=True)
args = parser.parse_args()

frame = pd.read_csv(os.path.join(args.train, "train.csv"))
features, label = frame.drop(columns=["defaulted"]), frame["defaulted"]
model = make_pipeline(StandardScaler(), LogisticRegression(C=args.C, max_iter=500)).fit(features, label)
mlflow.log_param("C", args.C)
mlflow.log_metric("train_accuracy", model.score(features, label))
# Explicit requirements: inferring them would re-import the model in a subprocess.
mlflow.sklearn.save_model(model, os.path.join(args.model_out, "model"),
                          pip_requirements=["scikit-learn==1.5.2", "pandas", "mlflow-skinny"])
print("model saved")
