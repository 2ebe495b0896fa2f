"""Stock MLflow clients, the oldest supported 2.x and the newest 3.x, see the same answers from
openaml as from ``mlflow server``: a whole client session (``client_scenario.py``) runs against
both servers with each client, and what the client read back must match.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conformance.conftest import ROOT

SCRIPT = Path(__file__).with_name("client_scenario.py")


def _clients() -> list[tuple[str, str | None]]:
    old = os.environ.get("OPENAML_MLFLOW_OLD_CLIENT") or str(ROOT / ".venv-mlflow-client-2" / "bin" / "python")
    return [("newest", sys.executable), ("oldest-2.x", old if Path(old).is_file() else None)]


def _run(python: str, uri: str, workdir: Path, token: str | None = None) -> dict:
    """The client session's result against *uri*; with *token*, the client sends it as stock
    clients do (``MLFLOW_TRACKING_TOKEN``)."""
    workdir.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    if token is not None:
        env["MLFLOW_TRACKING_TOKEN"] = token
    done = subprocess.run([python, str(SCRIPT), uri, str(workdir)], capture_output=True, text=True, env=env,
                          timeout=300, cwd=workdir)
    assert done.returncode == 0, f"client scenario failed against {uri}:\n{done.stderr[-3000:]}"
    return json.loads((workdir / "result.json").read_text())


@pytest.mark.slow
@pytest.mark.parametrize("which, python", _clients(), ids=[c[0] for c in _clients()])
def test_client_session_matches_mlflow(which: str, python: str | None, reference_url: str, openaml_url: str,
                                       tmp_path: Path) -> None:
    if python is None:
        pytest.skip("the oldest supported MLflow client is not installed: scripts/test.sh puts "
                    "mlflow-skinny 2.10 in .venv-mlflow-client-2 (or set OPENAML_MLFLOW_OLD_CLIENT)")
    expected = _run(python, reference_url, tmp_path / "mlflow")
    got = _run(python, openaml_url, tmp_path / "openaml")
    different = {k: (expected.get(k), got.get(k)) for k in sorted(set(expected) | set(got)) if expected.get(k) != got.get(k)}
    assert not different, f"{which} client ({expected.get('client')}): " + "\n".join(
        f"  {k}: mlflow server {v[0]!r}\n  {' ' * len(k)}  openaml      {v[1]!r}" for k, v in different.items())
