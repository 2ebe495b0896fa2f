"""The safety tests run real jobs with the end-to-end job fixtures."""

from tests.jobs.conftest import home, ml_client  # noqa: F401 - fixtures
