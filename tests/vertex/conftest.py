"""Vertex fixtures: both example specs as IR projects, their Vertex pipelines built as the target
builds them, and the target's files (both specs compile; support-assistant's LLM gateway becomes
a Cloud Run service)."""


import pytest
from example_specs import load_example
from mlopsc import targets
from vertex_cases import SPECS


@pytest.fixture(scope="session")
def projects():
    return {s: load_example(s) for s in SPECS}


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
