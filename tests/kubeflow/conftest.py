"""Shared fixtures: both example specs as IR projects, their pipelines built through the shared
KFP IR builder (so pipeline tests do not depend on the rest of the target), and the KServe
InferenceService CRD's schema from the reference folder."""

import os

import pytest
import yaml
from kfp_cases import ROOT, SPECS
from mlopsc import api
from mlopsc.targets.kfp_ir import build
from reference_files import reference


def load(spec):
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        return api.load_project(f"specs/{spec}.yaml")
    finally:
        os.chdir(cwd)


@pytest.fixture(scope="session")
def projects():
    return {s: load(s) for s in SPECS}


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
