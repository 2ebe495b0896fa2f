"""``.../workspaces/{ws}/environments``: environment containers and versions (see :mod:`openaml.server.routes._versioned`)."""

from openaml.server.routes._versioned import build_router

router = build_router("environments", "environment")
