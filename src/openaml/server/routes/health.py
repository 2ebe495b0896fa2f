"""``/health`` (the process answers) and ``/ready`` (it can serve: its home is usable)."""

from __future__ import annotations

import os

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from openaml.server.settings import VERSION as __version__
from openaml.server.routes._common import state_of

router = APIRouter(tags=["health"])


@router.get("/health", summary="Liveness: the server process answers.")
def health() -> dict[str, str]:
    return {"status": "ok", "version": __version__}


@router.get("/ready", summary="Readiness: the server can serve (its home folder is writable).")
def ready(request: Request) -> JSONResponse:
    home = state_of(request).settings.workspace_settings.home
    home.mkdir(parents=True, exist_ok=True)
    ok = os.access(home, os.W_OK)
    return JSONResponse({"status": "ready" if ok else "unavailable"}, status_code=200 if ok else 503)
