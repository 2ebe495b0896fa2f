"""The REST server: Azure ML's resource paths over the same services the in-process SDK calls.

``create_app(settings)`` builds the ASGI app (FastAPI; install ``openaml[server]``), every
request of which needs a token whose role allows it (unless ``no_auth``, on loopback only);
``openaml server start`` serves it with uvicorn. See docs/server.md.
"""

from openaml.server.settings import ServerSettings

__all__ = ["ServerSettings", "create_app"]


def create_app(settings: ServerSettings):
    """The ASGI app for *settings* (see :mod:`openaml.server.app`)."""
    from openaml.server.app import create_app as build
    return build(settings)
