"""What every handler receives: the request, and the stores and folders it works on."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openaml.store.tracking import TrackingStore
from openaml.tracking.wire import MlflowApiError

ArtifactRoot = Callable[[str], Path]


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

    def read_body(self) -> bytes:
        return b"".join(self.stream())

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
                    raise MlflowApiError("MALFORMED_REQUEST", "The request body is not valid JSON.") from None
                if not isinstance(body, dict):
                    raise MlflowApiError("MALFORMED_REQUEST", "The request body must be a JSON object.")
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
    known_runs: set[str] = field(default_factory=set)
