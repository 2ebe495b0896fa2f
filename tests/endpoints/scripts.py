"""Scoring scripts and models the serving tests deploy."""

from __future__ import annotations

import pickle
from pathlib import Path

from tests.helpers import write

LIGHT = """
import json, os, time
LABEL = None

def init():
    global LABEL
    LABEL = os.environ.get("LABEL", "?")
    if os.environ.get("FAIL_INIT"):
        raise RuntimeError("init failed on purpose")
    if os.environ.get("HANG_INIT"):
        time.sleep(3600)

def run(raw_data):
    data = json.loads(raw_data)
    if "sleep" in data:
        time.sleep(data["sleep"])
    print(f"scored by {LABEL}", flush=True)
    return {"deployment": LABEL, "pid": os.getpid(), "echo": data.get("echo"),
            "model_dir": os.environ.get("AZUREML_MODEL_DIR"), "app_root": os.environ.get("AML_APP_ROOT"),
            "entry": os.environ.get("AZUREML_ENTRY_SCRIPT")}
"""

SKLEARN = """
import json, os, pickle

def init():
    global model
    with open(os.path.join(os.environ["AZUREML_MODEL_DIR"], "model", "model.pkl"), "rb") as fh:
        model = pickle.load(fh)

def run(raw_data):
    print("scored", flush=True)
    return model.predict(json.loads(raw_data)["data"]).tolist()
"""

RAW = """
from azureml.contrib.services.aml_request import AMLRequest, rawhttp
from azureml.contrib.services.aml_response import AMLResponse

def init():
    pass

@rawhttp
def run(request):
    if request.method != "POST":
        return AMLResponse("only POST", 405)
    body = request.get_data()
    return AMLResponse(body[::-1], 200, {"Content-Type": "application/octet-stream", "X-Seen": request.headers.get("X-Test", "")})
"""

SCHEMA = """
from inference_schema.schema_decorators import input_schema, output_schema
from inference_schema.parameter_types.standard_py_parameter_type import StandardPythonParameterType

def init():
    pass

@input_schema("data", StandardPythonParameterType([[1.0, 2.0]]))
@output_schema(StandardPythonParameterType([3.0]))
def run(data, scale=1):
    return [sum(row) * scale for row in data]
"""


def schema_code(root: Path) -> Path:
    write(root / "schema" / "score.py", SCHEMA)
    return root / "schema"


def light_code(root: Path) -> Path:
    write(root / "light" / "score.py", LIGHT)
    return root / "light"


def raw_code(root: Path) -> Path:
    write(root / "raw" / "score.py", RAW)
    return root / "raw"


def sklearn_model(root: Path, coefficients: list[float]) -> tuple[Path, Path]:
    """A linear regression trained here on generated data (y = X @ coefficients), pickled into
    ``<root>/model/model.pkl``, and the scoring code beside it."""
    import numpy as np
    from sklearn.linear_model import LinearRegression

    rng = np.random.default_rng(0)
    features = rng.random((200, len(coefficients)))
    model = LinearRegression().fit(features, features @ np.array(coefficients))
    folder = root / "model"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.pkl").write_bytes(pickle.dumps(model))
    write(root / "code" / "score.py", SKLEARN)
    return folder, root / "code"
