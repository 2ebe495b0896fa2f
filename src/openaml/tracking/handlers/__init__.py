"""Request handlers, one module per MLflow resource. Each is ``handler(ctx, request) -> dict``
(the JSON response) or a :mod:`openaml.tracking.context` response object."""
