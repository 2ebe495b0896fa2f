"""What every handler receives: the request, and the stores and folders it works on."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openaml.store.tracking import TrackingStore
from openaml.tracking.registry import ModelRegistry, RegistryFactory
from openaml.tracking.wire import MlflowApiError

ArtifactRoot = Callable[[str], Path]
# JSON requests are parsed whole; MLflow's largest (log-batch: 1000 metrics, 100 params and tags
# of at most 6000 characters each) is well under a megabyte. Artifacts stream and have no limit.
MAX_JSON_BODY = 16 << 20


@dataclass
class Request:
    """One HTTP request. ``args`` is the query string (GET) merged under the JSON body (others)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: Any
    body_stream: Callable[[], Iterator[bytes]]
    path_params: dict[str, str] = field(default_factory=dict)
    _json: dict[str, Any] | None = None
    consumed: bool = False

    def read_body(self, limit: int = MAX_JSON_BODY) -> bytes:
        """The whole body, refused (MLflow's error shape, HTTP 413) past *limit* bytes: a client's
        Content-Length never decides how much memory the server takes."""
        parts, size = [], 0
        chunks = self.stream()
        for chunk in chunks:
            size += len(chunk)
            if size > limit:
                for _ in chunks:  # read (and drop) the rest: the connection stays in step
                    pass
                raise MlflowApiError("INVALID_PARAMETER_VALUE",
                                     f"The request body is larger than {limit // (1 << 20)} MiB.", 413)
            parts.append(chunk)
        return b"".join(parts)

    def stream(self) -> Iterator[bytes]:
        """The body in chunks; may be called once."""
        self.consumed = True
        return self.body_stream()

    @property
    def args(self) -> dict[str, Any]:
        if self._json is None:
            merged: dict[str, Any] = {k: v[0] for k, v in self.query.items()}
            if self.method != "GET":
                raw = self.read_body()
                try:
                    body = json.loads(raw) if raw.strip() else {}
                except ValueError:
                    raise MlflowApiError("INVALID_PARAMETER_VALUE", "The request body is not valid JSON.") from None
                if not isinstance(body, dict):
                    raise MlflowApiError("INVALID_PARAMETER_VALUE", "The request body must be a JSON object.")
                merged.update(body)
            merged.update(self.path_params)
            self._json = merged
        return self._json

    def query_list(self, name: str) -> list[str]:
        return self.query.get(name, [])


@dataclass(frozen=True)
class FileResponse:
    """Stream a file back (artifact downloads)."""

    path: Path
    content_type: str = "application/octet-stream"


@dataclass(frozen=True)
class JsonResponse:
    """A JSON body already encoded (large responses built without a dict per item)."""

    body: bytes


@dataclass(frozen=True)
class TextResponse:
    body: str
    status: int = 200
    content_type: str = "text/plain; charset=utf-8"


@dataclass
class TrackingContext:
    """The tracking store and the artifact folders of runs (and of logged models without a run).

    ``known_runs`` caches run ids seen to exist: artifact requests check the run once, not per file.
    """

    store: TrackingStore
    artifact_root_for_run: ArtifactRoot
    artifact_root_for_model: ArtifactRoot | None = None
    model_registry: RegistryFactory | None = None
    known_runs: set[str] = field(default_factory=set)
    _registry: ModelRegistry | None = None
    _registry_lock: threading.Lock = field(default_factory=threading.Lock)

    def registry(self, req: Request) -> ModelRegistry:
        """The model registry, built on first use; 501 NOT_IMPLEMENTED naming *req*'s endpoint
        when this server has none."""
        if self.model_registry is None:
            raise MlflowApiError("NOT_IMPLEMENTED", f"openaml does not serve {req.path} on this server: it has "
                                 "no model registry (the tracking server of a job has one).", 501)
        with self._registry_lock:
            if self._registry is None:
                self._registry = self.model_registry()
            return self._registry
