"""``.../workspaces/{ws}/models``: model containers and versions (see :mod:`openaml.server.routes._versioned`)."""

from openaml.server.routes._versioned import build_router

router = build_router("models", "model")
