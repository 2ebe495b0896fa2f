"""Golden fixtures: every file loads, and load -> dump -> load gives an equal entity."""

import io
from pathlib import Path

import pytest

from openaml.entities import (
    AmlCompute, AzureBlobDatastore, CertificateConfiguration, CommandComponent, ComputeInstance,
    Data, Environment, KubernetesCompute, LocalDatastore, Model, NoneCredentialConfiguration,
    SasTokenConfiguration, VirtualMachineCompute, Workspace,
)
from openaml.specs import dump_yaml, load_entity, to_yaml_dict

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "yaml"

KIND_BY_FOLDER = {"jobs": "job"}  # Azure's examples keep job files under jobs/
CASES = sorted((KIND_BY_FOLDER.get(p.parent.name, p.parent.name), p)
               for p in FIXTURES.glob("*/*.yml") if p.parent.name != "assets")


def test_every_kind_has_fixtures():
    kinds = {kind for kind, _ in CASES}
    assert kinds == {"model", "data", "environment", "component", "datastore", "compute",
                     "workspace", "job"}


@pytest.mark.parametrize(("kind", "path"), CASES, ids=[f"{k}/{p.name}" for k, p in CASES])
def test_round_trip(kind, path):
    entity = load_entity(kind, path)
    text = dump_yaml(entity)
    again = load_entity(kind, io.StringIO(text), relative_origin="/")
    assert again == entity
    assert "$schema" not in to_yaml_dict(entity)


@pytest.mark.parametrize(("kind", "name", "cls"), [
    ("model", "custom", Model), ("data", "mltable", Data), ("environment", "build", Environment),
    ("component", "train", CommandComponent), ("datastore", "blob_sas", AzureBlobDatastore),
    ("datastore", "local", LocalDatastore), ("compute", "amlcompute", AmlCompute),
    ("compute", "computeinstance", ComputeInstance), ("compute", "kubernetes", KubernetesCompute),
    ("compute", "virtualmachine", VirtualMachineCompute), ("workspace", "workspace", Workspace),
])
def test_type_picks_the_class(kind, name, cls):
    assert type(load_entity(kind, FIXTURES / kind / f"{name}.yml")) is cls


def test_credential_kinds_inferred():
    assert isinstance(load_entity("datastore", FIXTURES / "datastore/blob_sas.yml").credentials,
                      SasTokenConfiguration)
    assert isinstance(load_entity("datastore", FIXTURES / "datastore/adls_gen2_cert.yml").credentials,
                      CertificateConfiguration)
    assert isinstance(load_entity("datastore", FIXTURES / "datastore/blob_identity.yml").credentials,
                      NoneCredentialConfiguration)


def test_yaml_int_version_coerced_to_string():
    assert load_entity("model", FIXTURES / "model/custom.yml").version == "1"


def test_component_fixture_details():
    comp = load_entity("component", FIXTURES / "component/train.yml")
    lr = comp.inputs["learning_rate"]
    assert (lr.type, lr.default, lr.min, lr.max) == ("number", 0.01, 0.0, 1.0)
    assert comp.inputs["optimizer"].enum == ["adam", "sgd"] and comp.inputs["seed"].optional
    assert comp.resources.instance_count == 2 and comp.distribution.process_count_per_instance == 2
    assert to_yaml_dict(comp)["inputs"]["max_epocs"]["default"] == 10  # defaults stay typed


def test_mlflow_flavors_come_from_mlmodel():
    model = load_entity("model", FIXTURES / "model/mlflow.yml")
    assert set(model.flavors) == {"python_function", "sklearn"}
    assert model.flavors["sklearn"]["sklearn_version"] == "1.5.0"
