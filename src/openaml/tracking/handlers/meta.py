"""Server-level endpoints: health, version and MLflow 3's server-info capability probe."""

from __future__ import annotations

from typing import Any

from openaml.tracking.context import Request, TextResponse, TrackingContext


def health(ctx: TrackingContext, req: Request) -> TextResponse:
    return TextResponse("OK")


#: The MLflow REST API level openaml serves: MLflow 3.0's classic tracking and logged models. Clients
#: read ``GET /version`` before logging trace spans (OTLP, MLflow 3.4 and later) and, seeing an older
#: server, stop at once with NotImplementedError instead of retrying an endpoint that is not served.
MLFLOW_API_VERSION = "3.0.0"


def version(ctx: TrackingContext, req: Request) -> TextResponse:
    return TextResponse(MLFLOW_API_VERSION)


def server_info(ctx: TrackingContext, req: Request) -> dict[str, Any]:
    # No presigned/multipart transfers: clients then upload and download through this server.
    return {"store_type": "SqlStore", "workspaces_enabled": False, "multipart_uploads_enabled": False,
            "multipart_downloads_enabled": False}
