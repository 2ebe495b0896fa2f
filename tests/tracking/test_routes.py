"""The route table's answers about its routes, for those who guard them (an authorisation check)."""

from __future__ import annotations

from openaml.tracking.routes import API_PREFIXES, FIXED, READS_BY_POST, reads_only


def test_reads_only_tells_readers_from_writers():
    """Every route of the table is a read or a write, as MLflow means it: the POSTs that only
    search are reads, every other non-GET a write, whatever the API prefix."""
    assert READS_BY_POST <= {path for method, path in FIXED if method == "POST"}
    for (method, path), handler in FIXED.items():
        reads = method == "GET" or path in READS_BY_POST
        for prefix in API_PREFIXES:
            assert reads_only(method, prefix + path) is reads, (method, prefix + path)
        assert handler.__name__ in ("search", "get_latest_versions") or not (method == "POST" and reads)
    assert not reads_only("POST", "/runs/search")  # outside MLflow's prefixes: not a known read
    assert not reads_only("POST", "/api/2.0/mlflow/runs/search/../../runs/delete")
    assert reads_only("GET", "/api/2.0/mlflow-artifacts/artifacts/0/r/artifacts/x")
    for method in ("PUT", "DELETE", "PATCH"):
        assert not reads_only(method, "/api/2.0/mlflow-artifacts/artifacts/0/r/artifacts/x")
