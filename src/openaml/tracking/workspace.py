"""MLflow's REST API over one workspace: where its runs' artifacts, its logged models and its
model registry live. The job's endpoint (the agent) and the openaml server's per-workspace mount
both build their :class:`~openaml.tracking.context.TrackingContext` here, so both serve the same
workspace the same way."""

from __future__ import annotations

from openaml.services.locations import job_folder, logged_model_folder
from openaml.services.workspaces import WorkspaceContext
from openaml.tracking.context import TrackingContext
from openaml.tracking.registry import ModelRegistry

__all__ = ["workspace_tracking_context"]


def workspace_tracking_context(ctx: WorkspaceContext) -> TrackingContext:
    """The tracking context of an open workspace: runs' artifacts in their jobs' folders, logged
    models created outside a run in the workspace's artifact store, and MLflow's model registry
    over the workspace's models (built on the first registry request)."""

    def registry() -> ModelRegistry:
        from openaml.services.mlflow_registry import MlflowRegistry
        return MlflowRegistry(ctx)

    return TrackingContext(ctx.tracking, artifact_root_for_run=lambda run_id: job_folder(ctx, run_id),
                           artifact_root_for_model=lambda model_id: logged_model_folder(ctx, model_id),
                           model_registry=registry)
