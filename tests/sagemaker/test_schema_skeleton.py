"""The skeleton of every definition against the published schema, patched where it is out of date.

The schema (reference/sagemaker-pipeline-definition.schema.json, last changed 2025-04-02) is right
about the top level (Version, Metadata, Parameters, Steps), the step envelope (Name, Type,
DependsOn, Description, CacheConfig, RetryPolicies) and which keys each step type has. It is wrong
(see reference/notes/sagemaker.md, section 1) about:
- `PropertyFiles` on Processing steps: missing; patched in;
- `Std:Join`/`Std:JsonGet` as argument values (and `Std:Join` in Fail.ErrorMessage, `Std:JsonGet` as a
  condition's LeftValue), and newer request fields such as RegisterModel's `ModelApprovalStatus`:
  so every step's `Arguments` is loosened to "an object" here. Arguments are checked against
  botocore's service model instead (test_arguments.py), which is current.
Steps nested in a Condition's If/Else branches are validated as steps on their own.
"""

import copy
import json

import jsonschema
import pytest
from reference_files import reference
from sm_helpers import all_steps, definitions

SCHEMA = reference("sagemaker-pipeline-definition.schema.json")


def patched_schema():
    with open(SCHEMA, encoding="utf-8") as fh:
        schema = json.load(fh)
    schema = copy.deepcopy(schema)
    for definition in schema["definitions"].values():
        props = definition.get("properties", {})
        if "Arguments" in props and definition.get("properties", {}).get("Type"):
            props["Arguments"] = {"type": "object"}
    schema["definitions"]["ProcessingStep"]["properties"]["PropertyFiles"] = {
        "type": "array", "items": {"type": "object", "required": ["PropertyFileName", "OutputName", "FilePath"],
                                   "additionalProperties": False,
                                   "properties": {"PropertyFileName": {"type": "string"},
                                                  "OutputName": {"type": "string"},
                                                  "FilePath": {"type": "string"}}}}
    return schema


def test_definitions_match_the_patched_schema(compiled):
    _, files, _ = compiled
    schema = patched_schema()
    validator = jsonschema.Draft7Validator(schema)
    step_schema = {"definitions": schema["definitions"], **schema["properties"]["Steps"]["items"]}
    step_validator = jsonschema.Draft7Validator(step_schema)
    for path, definition in definitions(files).items():
        errors = [e.message for e in validator.iter_errors(definition)]
        for step in all_steps(definition["Steps"]):
            errors += [f"{step['Name']}: {e.message}" for e in step_validator.iter_errors(step)]
        assert not errors, (path, errors)


def test_unpatched_schema_rejects_what_the_notes_say(compiled):
    """Documents why the patches exist: the raw schema rejects PropertyFiles and Std:JsonGet."""
    _, files, _ = compiled
    with open(SCHEMA, encoding="utf-8") as fh:
        raw = jsonschema.Draft7Validator(json.load(fh))
    train = definitions(files)["pipelines/train.json"]
    assert list(raw.iter_errors(train))


@pytest.mark.parametrize("broken", [{"Version": "2021-01-01"}, {"Steps": [{"Name": "x", "Type": "Nope"}]},
                                    {"Extra": 1}])
def test_patched_schema_still_rejects_a_wrong_skeleton(compiled, broken):
    _, files, _ = compiled
    definition = dict(definitions(files)["pipelines/train.json"], **broken)
    assert list(jsonschema.Draft7Validator(patched_schema()).iter_errors(definition))
