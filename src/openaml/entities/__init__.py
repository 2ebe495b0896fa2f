"""Entities: pydantic data classes with azure-ai-ml's constructor arguments; no I/O."""

from ._base import Asset, Entity, Resource
from .component import CommandComponent
from .compute import AmlCompute, Compute, ComputeInstance, KubernetesCompute, VirtualMachineCompute
from .credentials import (
    AccountKeyConfiguration,
    CertificateConfiguration,
    NoneCredentialConfiguration,
    SasTokenConfiguration,
    ServicePrincipalConfiguration,
)
from .data import Data
from .datastore import (
    AzureBlobDatastore,
    AzureDataLakeGen1Datastore,
    AzureDataLakeGen2Datastore,
    AzureFileDatastore,
    Datastore,
    LocalDatastore,
)
from .distribution import MpiDistribution, PyTorchDistribution, RayDistribution, TensorFlowDistribution
from .environment import BuildContext, Environment
from .inputs_outputs import Input, Output
from .job import Command, CommandJob, CommandJobLimits
from .model import Model
from .parallel import ParallelComponent, ParallelTask, RetrySettings
from .pipeline import Pipeline, PipelineComponent, PipelineJob, PipelineJobSettings
from .resources import JobResourceConfiguration
from .sweep import ParameterizedCommand, Sweep, SweepJob
from .workspace import Workspace

__all__ = [
    "Entity", "Asset", "Resource",
    "Model", "Data", "Environment", "BuildContext", "CommandComponent", "Input", "Output",
    "Datastore", "AzureBlobDatastore", "AzureFileDatastore", "AzureDataLakeGen1Datastore",
    "AzureDataLakeGen2Datastore", "LocalDatastore",
    "AccountKeyConfiguration", "SasTokenConfiguration", "ServicePrincipalConfiguration",
    "CertificateConfiguration", "NoneCredentialConfiguration",
    "Compute", "AmlCompute", "ComputeInstance", "KubernetesCompute", "VirtualMachineCompute",
    "Workspace",
    "CommandJob", "Command", "CommandJobLimits", "JobResourceConfiguration",
    "PipelineJob", "PipelineJobSettings", "PipelineComponent", "Pipeline",
    "SweepJob", "Sweep", "ParameterizedCommand",
    "ParallelComponent", "ParallelTask", "RetrySettings",
    "MpiDistribution", "PyTorchDistribution", "TensorFlowDistribution", "RayDistribution",
]
