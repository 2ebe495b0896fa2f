"""Split the credit data into train and test sets."""

import argparse
import os

import pandas as pd
from sklearn.model_selection import train_test_split

parser = argparse.ArgumentParser()
parser.add_argument("--data", required=True)
parser.add_argument("--test-size", type=float, default=0.25)
parser.add_argument("--train-out", required=True)
parser.add_argument("--test-out", required=True)
args = parser.parse_args()

frame = pd.read_csv(args.data)
train, test = train_test_split(frame, test_size=args.test_size, random_state=0, stratify=frame["defaulted"])
train.to_csv(os.path.join(args.train_out, "train.csv"), index=False)
test.to_csv(os.path.join(args.test_out, "test.csv"), index=False)
print(f"train rows: {len(train)}, test rows: {len(test)}")
