"""Storage layer: metadata (SQLAlchemy), artifacts (content-addressed blobs), secrets (Fernet).

Nothing here imports services, client, cli or specs; records returned are plain dataclasses.
Submodules are imported on demand so that, e.g., using the artifact store does not load SQLAlchemy.
"""
