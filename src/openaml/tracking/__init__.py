"""MLflow's REST tracking API over openaml's tracking store, served per job by the agent.

``start_tracking_server(store, artifact_root_for_run=...)`` returns a :class:`TrackingServer`
whose ``url`` goes into ``MLFLOW_TRACKING_URI``; the stock ``mlflow`` client (2.x and 3.x) then
logs metrics, params, tags, artifacts and logged models into the workspace.
"""

from openaml.tracking.server import TrackingServer, start_tracking_server

__all__ = ["TrackingServer", "start_tracking_server"]
