"""Parsers for compiled files, for the mutation suite: each file must parse as what its path says,
with the platform's own parser where one is cheap to call, and carry no control character."""

from __future__ import annotations

import json
import re
import unicodedata

import yaml

# Dockerfile instructions (the reference's list); a line that is neither one, a comment, a blank
# nor the continuation of the previous line means a value broke out of its instruction.
DOCKERFILE_INSTRUCTIONS = {"FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME",
                           "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL"}
# Line and paragraph separators break YAML and JavaScript readers of JSON; invisible ones hide text.
FORBIDDEN = {"\u2028", "\u2029", "\u200b", "\u200e", "\u200f", "\u202a", "\u202b", "\u202c", "\u202d", "\u202e",
             "\u2066", "\u2067", "\u2068", "\u2069", "\ufeff"}


def control_characters(text: str) -> list[str]:
    """Control and invisible characters in a compiled file (line feeds excepted)."""
    return sorted({f"U+{ord(c):04X}" for c in text
                   if (unicodedata.category(c) == "Cc" and c != "\n") or c in FORBIDDEN})


def check_dockerfile(text: str) -> None:
    continued = False
    for line in text.splitlines():
        stripped = line.strip()
        if not continued and stripped and not stripped.startswith("#"):
            word = stripped.split()[0].upper()
            assert word in DOCKERFILE_INSTRUCTIONS, f"not an instruction: {line!r}"
        continued = stripped.endswith("\\")


def _pipeline_spec(doc: dict) -> None:
    from google.protobuf import json_format
    from kfp.pipeline_spec import pipeline_spec_pb2

    if "pipelineInfo" in doc:
        json_format.ParseDict(doc, pipeline_spec_pb2.PipelineSpec(), ignore_unknown_fields=False)
    elif "platforms" in doc:
        json_format.ParseDict(doc, pipeline_spec_pb2.PlatformSpec(), ignore_unknown_fields=False)


def check_file(target: str, path: str, text: str) -> None:
    """Raise AssertionError (or the parser's error) when `text` does not parse as `path` says."""
    assert not control_characters(text), (target, path, control_characters(text))
    if path.endswith((".yaml", ".yml")):
        docs = list(yaml.safe_load_all(text))
        if target in ("kubeflow", "vertex") and path.startswith("pipelines/"):
            for doc in docs:
                _pipeline_spec(doc)
        if path == "docker-compose.yaml":
            for service in (docs[0].get("services") or {}).values():
                inline = (service.get("build") or {}).get("dockerfile_inline")
                if inline:
                    check_dockerfile(inline)
    elif path.endswith(".json"):
        json.loads(text)
    elif path.endswith("Dockerfile"):
        check_dockerfile(text)
    elif path.endswith(".md"):
        assert not re.search(r"\x1b\[", text)
