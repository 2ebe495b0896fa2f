"""``Environment`` and ``BuildContext``: the container a job or deployment runs in."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import field_validator

from openaml.errors import ValidationError

from ._base import Asset, Entity

ANONYMOUS_ENV_NAME = "CliV2AnonymousEnvironment"


class BuildContext(Entity):
    """A Docker build context: a local folder or URL holding ``dockerfile_path``."""

    path: str | None = None
    dockerfile_path: str = "Dockerfile"


class Environment(Asset):
    """A container image, an image plus a conda file, or a Docker build context.

    ``conda_file`` may be a path (the spec layer reads it into a dict) or an inline dict.
    """

    asset_kind: ClassVar[str] = "environments"

    image: str | None = None
    conda_file: str | dict[str, Any] | None = None
    build: BuildContext | None = None
    os_type: Literal["linux", "windows"] = "linux"
    inference_config: dict[str, Any] | None = None
    datastore: str | None = None

    @field_validator("os_type", mode="before")
    @classmethod
    def _lower_os_type(cls, v: Any) -> Any:
        return v.lower() if isinstance(v, str) else v

    def validate_for_registration(self) -> None:
        """Raise :class:`openaml.errors.ValidationError` unless exactly one of image/build is set.

        As in Azure, ``conda_file`` requires ``image`` (conda is layered on top of it).
        """
        if not self.image and not self.build:
            raise ValidationError("Docker image or Dockerfile is required for environments.",
                                  field="image")
        if self.image and self.build:
            raise ValidationError("Docker image or Dockerfile should be provided not both.",
                                  field="build")
        if self.conda_file and not self.image:
            raise ValidationError("conda_file requires image.", field="conda_file")
