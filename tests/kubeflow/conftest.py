"""Shared fixtures: both example specs as IR projects, their pipelines built through the shared
KFP IR builder (so pipeline tests do not depend on the rest of the target), and the KServe
InferenceService CRD's schema from the reference folder."""


import pytest
import yaml
from example_specs import load_example
from kfp_cases import SPECS
from mlopsc.targets.kfp_ir import build
from reference_files import reference


@pytest.fixture(scope="session")
def projects():
    return {s: load_example(s) for s in SPECS}


@pytest.fixture(scope="session")
def compiled(projects):
    return {(s, p.name): build(p, projects[s]) for s in SPECS for p in projects[s].pipelines}


CRD = reference("kserve-inferenceservice.crd.yaml")


@pytest.fixture(scope="session")
def isvc_schema():
    with open(CRD) as fh:
        crd = yaml.safe_load(fh)
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1beta1")
    return version["schema"]["openAPIV3Schema"]
