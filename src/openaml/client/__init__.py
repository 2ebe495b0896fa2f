"""The SDK edge: ``MLClient`` and its operation groups."""

from openaml.client.ml_client import MLClient

__all__ = ["MLClient"]
