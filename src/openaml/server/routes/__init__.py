"""One route module per resource; :data:`ROUTERS` is what the app mounts."""

from openaml.server.routes import (blobs, codes, components, computes, data, datastores, environments, health, jobs,
                                   mlflow, models, tokens, workspaces)

# MLflow's mount first: its clients are the chattiest (a request per logged metric), and its
# paths share no prefix with the others, so the order changes nothing else.
ROUTERS = [mlflow.router, health.router, workspaces.router, models.router, data.router, environments.router,
           components.router, codes.router, blobs.router, datastores.router, computes.router, jobs.router,
           tokens.router]
