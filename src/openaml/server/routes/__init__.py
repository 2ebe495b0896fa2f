"""One route module per resource; :data:`ROUTERS` is what the app mounts."""

from openaml.server.routes import (blobs, codes, components, computes, data, datastores, environments, health, jobs,
                                   models, tokens, workspaces)

ROUTERS = [health.router, workspaces.router, models.router, data.router, environments.router, components.router,
           codes.router, blobs.router, datastores.router, computes.router, jobs.router, tokens.router]
