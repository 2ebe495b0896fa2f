"""Entities: pydantic data classes with azure-ai-ml's constructor arguments; no I/O.

The classes load on first use (PEP 562 ``__getattr__``): building every pydantic model costs
~150 ms, and a job's agent, which only needs ``entities.job_status``, would pay it on every job.
``from openaml.entities import X`` works as before and returns the class defined in its module.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what static tools see; at run time __getattr__ below imports on demand
    from ._base import Asset, Entity, Job, Resource
    from .component import CommandComponent, Component
    from .compute import AmlCompute, Compute, ComputeInstance, KubernetesCompute, VirtualMachineCompute
    from .compute_sizes import Usage, UsageName, UsageUnit, VmSize
    from .credentials import (
        AccountKeyConfiguration,
        AmlTokenConfiguration,
        CertificateConfiguration,
        IdentityConfiguration,
        ManagedIdentityConfiguration,
        NoneCredentialConfiguration,
        S3AccessKeyConfiguration,
        SasTokenConfiguration,
        ServicePrincipalConfiguration,
        UserIdentityConfiguration,
    )
    from .data import Data
    from .deployment import (
        CodeConfiguration,
        DefaultScaleSettings,
        KubernetesOnlineDeployment,
        ManagedOnlineDeployment,
        OnlineDeployment,
        OnlineRequestSettings,
        ProbeSettings,
        ResourceRequirementsSettings,
        ResourceSettings,
        TargetUtilizationScaleSettings,
    )
    from .endpoint import (
        EndpointAadToken,
        EndpointAuthKeys,
        EndpointAuthToken,
        KubernetesOnlineEndpoint,
        ManagedOnlineEndpoint,
        OnlineEndpoint,
    )
    from .datastore import (
        AzureBlobDatastore,
        AzureDataLakeGen1Datastore,
        AzureDataLakeGen2Datastore,
        AzureFileDatastore,
        Datastore,
        LocalDatastore,
        S3Datastore,
    )
    from .distribution import MpiDistribution, PyTorchDistribution, RayDistribution, TensorFlowDistribution
    from .environment import BuildContext, Environment
    from .inputs_outputs import Input, Output
    from .job import Command, CommandJob, CommandJobLimits
    from .model import Model
    from .parallel import Parallel, ParallelComponent, ParallelTask, RetrySettings
    from .pipeline import Pipeline, PipelineComponent, PipelineJob, PipelineJobSettings
    from .resources import JobResourceConfiguration, ResourceConfiguration
    from .sweep import ParameterizedCommand, Sweep, SweepJob
    from .workspace import Workspace
    from .workspace_storage import WorkspaceStorage

__all__ = [
    "Entity", "Asset", "Resource", "Job", "Component",
    "Model", "Data", "Environment", "BuildContext", "CommandComponent", "Input", "Output",
    "Datastore", "AzureBlobDatastore", "AzureFileDatastore", "AzureDataLakeGen1Datastore",
    "AzureDataLakeGen2Datastore", "LocalDatastore", "S3Datastore",
    "AccountKeyConfiguration", "SasTokenConfiguration", "ServicePrincipalConfiguration",
    "CertificateConfiguration", "NoneCredentialConfiguration", "S3AccessKeyConfiguration",
    "IdentityConfiguration", "ManagedIdentityConfiguration", "UserIdentityConfiguration",
    "AmlTokenConfiguration",
    "Compute", "AmlCompute", "ComputeInstance", "KubernetesCompute", "VirtualMachineCompute",
    "VmSize", "Usage", "UsageName", "UsageUnit",
    "Workspace", "WorkspaceStorage",
    "CommandJob", "Command", "CommandJobLimits", "JobResourceConfiguration", "ResourceConfiguration",
    "PipelineJob", "PipelineJobSettings", "PipelineComponent", "Pipeline",
    "SweepJob", "Sweep", "ParameterizedCommand",
    "Parallel", "ParallelComponent", "ParallelTask", "RetrySettings",
    "MpiDistribution", "PyTorchDistribution", "TensorFlowDistribution", "RayDistribution",
    "OnlineEndpoint", "ManagedOnlineEndpoint", "KubernetesOnlineEndpoint",
    "EndpointAuthKeys", "EndpointAuthToken", "EndpointAadToken",
    "OnlineDeployment", "ManagedOnlineDeployment", "KubernetesOnlineDeployment", "CodeConfiguration",
    "OnlineRequestSettings", "ProbeSettings", "DefaultScaleSettings", "TargetUtilizationScaleSettings",
    "ResourceRequirementsSettings", "ResourceSettings",
]

# The module defining each exported name (a test checks this agrees with __all__).
_HOME = {
    "Entity": "_base", "Asset": "_base", "Resource": "_base", "Job": "_base",
    "CommandComponent": "component", "Component": "component",
    "Compute": "compute", "AmlCompute": "compute", "ComputeInstance": "compute",
    "KubernetesCompute": "compute", "VirtualMachineCompute": "compute",
    "VmSize": "compute_sizes", "Usage": "compute_sizes", "UsageName": "compute_sizes",
    "UsageUnit": "compute_sizes",
    "AccountKeyConfiguration": "credentials", "CertificateConfiguration": "credentials",
    "NoneCredentialConfiguration": "credentials", "SasTokenConfiguration": "credentials",
    "ServicePrincipalConfiguration": "credentials", "IdentityConfiguration": "credentials",
    "ManagedIdentityConfiguration": "credentials", "UserIdentityConfiguration": "credentials",
    "AmlTokenConfiguration": "credentials", "S3AccessKeyConfiguration": "credentials",
    "Data": "data",
    "OnlineEndpoint": "endpoint", "ManagedOnlineEndpoint": "endpoint", "KubernetesOnlineEndpoint": "endpoint",
    "EndpointAuthKeys": "endpoint", "EndpointAuthToken": "endpoint", "EndpointAadToken": "endpoint",
    "OnlineDeployment": "deployment", "ManagedOnlineDeployment": "deployment",
    "KubernetesOnlineDeployment": "deployment", "CodeConfiguration": "deployment",
    "OnlineRequestSettings": "deployment", "ProbeSettings": "deployment", "DefaultScaleSettings": "deployment",
    "TargetUtilizationScaleSettings": "deployment", "ResourceRequirementsSettings": "deployment",
    "ResourceSettings": "deployment",
    "Datastore": "datastore", "AzureBlobDatastore": "datastore", "AzureFileDatastore": "datastore",
    "AzureDataLakeGen1Datastore": "datastore", "AzureDataLakeGen2Datastore": "datastore",
    "LocalDatastore": "datastore", "S3Datastore": "datastore",
    "MpiDistribution": "distribution", "PyTorchDistribution": "distribution",
    "TensorFlowDistribution": "distribution", "RayDistribution": "distribution",
    "Environment": "environment", "BuildContext": "environment",
    "Input": "inputs_outputs", "Output": "inputs_outputs",
    "CommandJob": "job", "Command": "job", "CommandJobLimits": "job",
    "Model": "model",
    "Parallel": "parallel", "ParallelComponent": "parallel", "ParallelTask": "parallel", "RetrySettings": "parallel",
    "PipelineJob": "pipeline", "PipelineJobSettings": "pipeline", "PipelineComponent": "pipeline",
    "Pipeline": "pipeline",
    "JobResourceConfiguration": "resources", "ResourceConfiguration": "resources",
    "SweepJob": "sweep", "Sweep": "sweep", "ParameterizedCommand": "sweep",
    "Workspace": "workspace", "WorkspaceStorage": "workspace_storage",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{home}", __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
