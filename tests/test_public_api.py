"""The public surface is kept on purpose: a change to it must change this test too."""

from __future__ import annotations

import openaml

ROOT_API = {
    "MLClient", "Input", "Output", "load_component", "load_compute", "load_data", "load_datastore",
    "load_environment", "load_job", "load_model", "load_workspace", "command", "dsl", "__version__",
}



def test_root_exports_exactly_the_curated_list():
    assert set(openaml.__all__) == ROOT_API
    for name in ROOT_API:
        assert getattr(openaml, name) is not None


def test_azure_style_imports_work():
    from openaml import MLClient, load_model  # noqa: F401
    from openaml.entities import (AccountKeyConfiguration, AmlCompute, BuildContext,  # noqa: F401
                                  CommandComponent, Workspace)
