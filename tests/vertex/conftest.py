"""Vertex fixtures: both example specs as IR projects, their Vertex pipelines built as the target
builds them, and the target's files (both specs compile; support-assistant's LLM gateway becomes
a Cloud Run service)."""

import os

import pytest
from mlopsc import api, targets
from vertex_cases import ROOT, SPECS


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
def vertex():
    return targets.get("vertex")


@pytest.fixture(scope="session")
def compiled(projects, vertex):
    return {(s, p.name): (p, c) for s in SPECS for p, c in vertex.compiled(projects[s])}


@pytest.fixture(scope="session")
def files(projects, vertex):
    """path -> text for every spec, files() called directly (no README or manifest)."""
    return {s: {f.path: f.content for f in vertex.files(projects[s])} for s in SPECS}
