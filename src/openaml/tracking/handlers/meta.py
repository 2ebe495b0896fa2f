"""Server-level endpoints: health, version and MLflow 3's server-info capability probe."""

from __future__ import annotations

from typing import Any

from openaml.tracking.context import Request, TextResponse, TrackingContext


def health(ctx: TrackingContext, req: Request) -> TextResponse:
    return TextResponse("OK")


def server_info(ctx: TrackingContext, req: Request) -> dict[str, Any]:
    # No presigned/multipart transfers: clients then upload and download through this server.
    return {"store_type": "SqlStore", "workspaces_enabled": False, "multipart_uploads_enabled": False,
            "multipart_downloads_enabled": False}
