"""Compiled KFP IR for both example specs, built through the shared builder directly so that
support-assistant's pipelines are checked too (its kubeflow compile stops at E701 for shadow
traffic and the LLM gateway; the pipelines themselves are fully expressible)."""

import os

import pytest
from mlopsc import api
from mlopsc.targets.kfp_ir import build

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from kfp_cases import SPECS


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
