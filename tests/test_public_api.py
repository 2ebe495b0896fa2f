"""The public surface is kept on purpose: a change to it must change this test too."""

from __future__ import annotations

import subprocess
import sys

import openaml
import openaml.constants as constants
import openaml.entities as entities

ROOT_API = {
    "MLClient", "Input", "Output", "load_component", "load_compute", "load_data", "load_datastore",
    "load_environment", "load_job", "load_model", "load_workspace", "command", "dsl", "__version__",
    "MpiDistribution", "PyTorchDistribution", "TensorFlowDistribution", "RayDistribution",
    "load_online_endpoint", "load_online_deployment",
}

# azure.ai.ml.entities names openaml implements (entities.__all__ may hold more of its own).
AZURE_ENTITIES = {
    "Asset", "Resource", "Job", "Component", "Model", "Data", "Environment", "BuildContext",
    "CommandComponent", "PipelineComponent", "ParallelComponent", "Input", "Output",
    "Datastore", "AzureBlobDatastore", "AzureFileDatastore", "AzureDataLakeGen1Datastore",
    "AzureDataLakeGen2Datastore", "AccountKeyConfiguration", "SasTokenConfiguration",
    "ServicePrincipalConfiguration", "CertificateConfiguration", "NoneCredentialConfiguration",
    "IdentityConfiguration", "ManagedIdentityConfiguration", "UserIdentityConfiguration",
    "AmlTokenConfiguration", "Compute", "AmlCompute", "ComputeInstance", "KubernetesCompute",
    "VirtualMachineCompute", "VmSize", "Usage", "UsageName", "UsageUnit", "Workspace",
    "CommandJob", "Command", "CommandJobLimits", "JobResourceConfiguration", "ResourceConfiguration",
    "PipelineJob", "PipelineJobSettings", "Pipeline", "SweepJob", "Sweep", "ParameterizedCommand",
    "Parallel", "ParallelTask", "RetrySettings",
    "OnlineEndpoint", "ManagedOnlineEndpoint", "KubernetesOnlineEndpoint", "EndpointAuthKeys", "EndpointAuthToken",
    "EndpointAadToken", "OnlineDeployment", "ManagedOnlineDeployment", "KubernetesOnlineDeployment",
    "CodeConfiguration", "OnlineRequestSettings", "ProbeSettings", "DefaultScaleSettings",
    "TargetUtilizationScaleSettings", "ResourceRequirementsSettings", "ResourceSettings",
}
AZURE_CONSTANTS = {"AssetTypes", "InputTypes", "InputOutputModes", "ListViewType", "JobType",
                   "DistributionType", "ParallelTaskType"}


def test_root_exports_exactly_the_curated_list():
    assert set(openaml.__all__) == ROOT_API
    for name in ROOT_API:
        assert getattr(openaml, name) is not None


def test_entities_export_the_azure_ai_ml_names_openaml_implements():
    # the exact list, and that each is its module's class: tests/entities/test_entities.py
    assert AZURE_ENTITIES <= set(entities.__all__)


def test_constants_have_azure_ai_ml_classes():
    for name in AZURE_CONSTANTS:
        assert hasattr(constants, name), name
    assert constants.JobType.PIPELINE == "pipeline" and constants.DistributionType.PYTORCH == "pytorch"


def test_base_classes_cover_every_job_and_component():
    from openaml.entities import (Command, CommandComponent, CommandJob, Component, Job, JobResourceConfiguration,
                                  Parallel, ParallelComponent, Pipeline, PipelineComponent, PipelineJob,
                                  ResourceConfiguration, SweepJob)
    for klass in (CommandJob, Command, PipelineJob, SweepJob, Pipeline, Parallel):
        assert issubclass(klass, Job), klass
    for klass in (CommandComponent, PipelineComponent, ParallelComponent):
        assert issubclass(klass, Component), klass
    assert issubclass(JobResourceConfiguration, ResourceConfiguration)


def test_root_stays_lazy():
    """``import openaml`` loads no entity, client or azure-core module until a name is used."""
    code = ("import sys, openaml; print(sorted(m for m in sys.modules if m.startswith(('openaml.', 'azure'))))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_azure_style_imports_work():
    from openaml import MLClient, PyTorchDistribution, load_model  # noqa: F401
    from openaml.entities import (AccountKeyConfiguration, AmlCompute, BuildContext,  # noqa: F401
                                  CommandComponent, ManagedIdentityConfiguration, Workspace)
    from openaml.exceptions import JobException, ValidationException  # noqa: F401


def test_data_exports_azure_mltable_names_and_loads_no_pyarrow():
    """``openaml.data`` is Azure's ``mltable`` API (load, MLTable, DataType) plus load_table;
    pyarrow and pandas load only when a table is read."""
    code = ("import sys, openaml.data as d; print(sorted(d.__all__)); "
            "print([m for m in ('pyarrow', 'pandas') if m in sys.modules])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split("\n")[:2] == ["['DataType', 'MLTable', 'load', 'load_table']", "[]"]
